"""Plans call every kind of Strawberry resolver as graphql-core would, on a small schema."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
import strawberry
from strawberry.types import ExecutionResult

from schema.limits import Limits
from schema.plans import compile_plan


@dataclass
class Scheduler:
    kept: list[bool] = field(default_factory=list)
    closed: int = 0

    def keep_reads(self, keep: bool) -> None:
        self.kept.append(keep)

    async def aclose(self) -> None:
        self.closed += 1


@dataclass
class Loaders:
    scheduler: Scheduler = field(default_factory=Scheduler)


@dataclass
class Context:
    loaders: Loaders = field(default_factory=Loaders)
    budget: Any = None
    rate_key: str | None = None
    suffix: str = "!"


@strawberry.type
class Item:
    name: str
    size: int | None = None

    @strawberry.field
    def shout(self, info: strawberry.Info) -> str:
        return self.name.upper() + info.context.suffix

    @strawberry.field
    async def later(self) -> str:
        await asyncio.sleep(0)
        return f"{self.name} later"

    @strawberry.field
    def parent_name(self, parent: strawberry.Parent[Item]) -> str:
        return f"parent {parent.name}"

    @strawberry.field
    def repeat(self, times: int = 2, sep: str = "-") -> str:
        return sep.join([self.name] * times)


@strawberry.type
class Query:
    @strawberry.field
    def items(self, names: list[str]) -> list[Item | None]:
        return [None if n == "-" else Item(name=n, size=len(n)) for n in names]

    @strawberry.field
    def strict(self) -> Item:
        return None  # type: ignore[return-value]  # a broken resolver: non-null gets null


tiny = strawberry.Schema(query=Query)
QUERY = """
query Q($names: [String!]!, $times: Int) {
  items(names: $names) {
    name size shout later parentName
    twice: repeat
    thrice: repeat(times: $times, sep: "+")
    __typename
  }
}
"""


async def _both(query: str, variables: dict[str, Any]) -> tuple[Any, ExecutionResult | None]:
    generic = await tiny.execute(query, variable_values=variables, context_value=Context())
    plan = compile_plan(tiny, query, None, Limits())
    context = Context()
    answer, spent = await plan.run(context, variables)  # type: ignore[arg-type]
    assert not spent
    # A run keeps the reads connection and gives it back after, whatever its outcome;
    # variables that do not coerce stop it before it starts.
    scheduler = context.loaders.scheduler
    assert (scheduler.kept, scheduler.closed) in (([True, False], 1), ([], 0))
    return generic, answer


async def test_every_kind_of_resolver_answers_as_graphql_core_does() -> None:
    generic, answer = await _both(QUERY, {"names": ["ab", "-", "cde"], "times": 3})
    assert generic.errors is None
    assert answer is not None
    assert answer.data == generic.data
    assert list(answer.data["items"][0]) == list(generic.data["items"][0])  # key order
    assert answer.data["items"][2]["thrice"] == "cde+cde+cde"


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query { strict { name } }", {}),  # null where the schema says non-null
        (QUERY, {"names": ["a"], "times": "x"}),  # variables that do not coerce
        (QUERY, {"times": 1}),  # a required variable missing
    ],
)
async def test_off_the_happy_path_a_plan_declines(query: str, variables: dict[str, Any]) -> None:
    generic, answer = await _both(query, variables)
    assert generic.errors
    assert answer is None
