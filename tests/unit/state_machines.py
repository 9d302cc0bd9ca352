"""One exhaustive check for a state machine written as a hand-made table of its allowed
(status, action, actor) cells: every other cell of the whole space must be refused, by
the machine's own error naming the cell."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

import pytest

from domain.order_status import Actor

S = TypeVar("S", bound=Enum)
A = TypeVar("A", bound=Enum)

# The actor sets the actions a viewer may take are asked for.
ACTOR_SETS: dict[str, frozenset[Actor]] = {
    "buyer": frozenset({Actor.BUYER}),
    "seller": frozenset({Actor.SELLER}),
    "buyer+seller": frozenset({Actor.BUYER, Actor.SELLER}),
    "none": frozenset(),
}


@dataclass(frozen=True)
class Machine(Generic[S, A]):
    """A machine's enums, its table of allowed cells, its step and the error it refuses
    with (which carries ``status``, ``action``, ``actor`` and ``reason``)."""

    statuses: type[S]
    actions: type[A]
    allowed: Mapping[tuple[S, A, Actor], S]
    step: Callable[[S, A, Actor], S]
    refusal: type[Exception]

    @property
    def cells(self) -> list[tuple[S, A, Actor]]:
        """The whole space: every status x action x actor."""
        return list(itertools.product(self.statuses, self.actions, Actor))

    def check_table(self) -> None:
        """The table names only cells of the space, and leads only to statuses."""
        assert set(self.allowed) <= set(self.cells)
        assert all(isinstance(target, self.statuses) for target in self.allowed.values())

    def check(self, cell: tuple[S, A, Actor]) -> None:
        """An allowed cell leads where the table says; any other is refused, naming the
        cell, with a reason that names the status and the action."""
        status, action, actor = cell
        expected = self.allowed.get(cell)
        if expected is not None:
            assert self.step(status, action, actor) is expected
            return
        with pytest.raises(self.refusal) as caught:
            self.step(status, action, actor)
        error: Any = caught.value
        assert (error.status, error.action, error.actor) == cell
        assert str(error) == error.reason
        assert status.value in error.reason
        assert action.value in error.reason

    def accepted_from(self, status: S) -> list[tuple[A, Actor]]:
        """What the machine itself (not the table) accepts from ``status``."""
        accepted = []
        for action, actor in itertools.product(self.actions, Actor):
            try:
                self.step(status, action, actor)
            except self.refusal:
                continue
            accepted.append((action, actor))
        return accepted


def cell_id(cell: tuple[Enum, Enum, Actor]) -> str:
    return "-".join(part.value for part in cell)
