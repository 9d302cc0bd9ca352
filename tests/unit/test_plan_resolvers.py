"""Plans call every kind of Strawberry resolver as graphql-core would, on a small schema."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from strawberry.types import ExecutionResult

from schema.common import loaded
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

    def abandon(self) -> None:
        pass


@dataclass
class Lengths:
    """A loader stand-in: each key's length, settled a loop turn later; "boom" fails."""

    keys: list[str] = field(default_factory=list)

    def load(self, key: str) -> asyncio.Future[int]:
        self.keys.append(key)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if key == "boom":
            asyncio.get_running_loop().call_soon(future.set_exception, KeyError(key))
        else:
            asyncio.get_running_loop().call_soon(future.set_result, len(key))
        return future


@dataclass
class Loaders:
    scheduler: Scheduler = field(default_factory=Scheduler)
    lengths: Lengths = field(default_factory=Lengths)


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

    @property
    def row(self) -> SimpleNamespace:
        # What a row-backed type's loaded fields read their key from: "zz" has none.
        return SimpleNamespace(name=self.name, length_key=None if self.name == "zz" else self.name)

    @strawberry.field
    @loaded("lengths", key="length_key")
    def length(self, value: int | None) -> int | None:
        return None if value is None else value * 10

    @strawberry.field
    @loaded("lengths", key="name", with_context=True)
    def length_marked(self, value: int, context: Context) -> str:
        return f"{value}{context.suffix}"


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
    name size shout later parentName length lengthMarked
    twice: repeat
    thrice: repeat(times: $times, sep: "+")
    __typename
  }
}
"""


async def _both(query: str, variables: dict[str, Any]) -> tuple[Any, ExecutionResult | None]:
    generic_context = Context()
    generic = await tiny.execute(query, variable_values=variables, context_value=generic_context)
    plan = compile_plan(tiny, query, None, Limits())
    context = Context()
    answer, spent = await plan.run(context, variables)  # type: ignore[arg-type]
    assert not spent
    # Fields written with `loaded` load the same keys on both paths (a level at once in
    # the plan: still one load per object, so the loaders batch them alike).
    if answer is not None:
        assert sorted(context.loaders.lengths.keys) == sorted(generic_context.loaders.lengths.keys)
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
    assert answer.data["items"][2]["length"] == 30
    assert answer.data["items"][2]["lengthMarked"] == "3!"


async def test_a_loaded_field_with_no_key_is_null_without_a_load() -> None:
    generic, answer = await _both(QUERY, {"names": ["zz", "a"]})
    assert generic.errors is None
    assert answer is not None
    assert answer.data == generic.data
    assert [i["length"] for i in answer.data["items"]] == [None, 10]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query { strict { name } }", {}),  # null where the schema says non-null
        (QUERY, {"names": ["a"], "times": "x"}),  # variables that do not coerce
        (QUERY, {"times": 1}),  # a required variable missing
        (QUERY, {"names": ["a", "boom"]}),  # a loader fails for one key
    ],
)
async def test_off_the_happy_path_a_plan_declines(query: str, variables: dict[str, Any]) -> None:
    generic, answer = await _both(query, variables)
    assert generic.errors
    assert answer is None
