"""A lifecycle as a table of transitions: the one way an order's and a return's state
machines answer what comes next, who may take a step, and why a step is refused.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from domain.order_status import Actor

A = TypeVar("A", bound=StrEnum)  # the steps
S = TypeVar("S", bound=StrEnum)  # the statuses


@dataclass(frozen=True, slots=True)
class Transition(Generic[A, S]):
    action: A
    source: S
    target: S
    actors: frozenset[Actor]


class InvalidTransition(Exception):
    """A lifecycle refuses a step; carries why, for a typed user error."""

    def __init__(self, action: StrEnum, status: StrEnum, actor: Actor, reason: str):
        super().__init__(reason)
        self.action = action
        self.status = status
        self.actor = actor
        self.reason = reason


class Lifecycle(Generic[A, S]):
    """The transitions of one kind of thing (``noun``: "an order"), read every way the
    mutations, ``availableActions`` and the SQL plans need them."""

    def __init__(self, noun: str, transitions: tuple[Transition[A, S], ...]) -> None:
        self.noun = noun
        self.transitions = transitions
        self._by_action_and_source = {(t.action, t.source): t for t in transitions}

    def next(self, status: S, action: A, actor: Actor) -> S:
        """The status after ``actor`` takes ``action`` from ``status``; InvalidTransition
        when the action does not apply to the status or the actor may not take it."""
        transition = self._by_action_and_source.get((action, status))
        if transition is None:
            reason = f"{self.noun.capitalize()} that is {status.value} cannot {action.value}."
            raise InvalidTransition(action, status, actor, reason)
        if actor not in transition.actors:
            reason = (
                f"{actor.value.lower()} may not {action.value} {self.noun} that is {status.value}."
            )
            raise InvalidTransition(action, status, actor, reason)
        return transition.target

    def offered(self, status: S, actors: frozenset[Actor]) -> list[A]:
        """The steps any of ``actors`` may take from ``status``, in the table's order."""
        return [t.action for t in self.transitions if t.source is status and t.actors & actors]

    def actors_of(self, action: A) -> frozenset[Actor]:
        """Everyone who may take ``action`` from some status."""
        return frozenset(a for t in self.transitions if t.action is action for a in t.actors)

    def steps(self) -> list[A]:
        """Every step, in the order the table first names it."""
        return list(dict.fromkeys(t.action for t in self.transitions))

    def sources_of(self, action: A, actor: Actor) -> list[S]:
        """The statuses from which ``actor`` may take ``action``."""
        return [t.source for t in self.transitions if t.action is action and actor in t.actors]
