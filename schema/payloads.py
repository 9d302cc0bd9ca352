"""Mutation results: the changed object, or typed user errors saying why not."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import strawberry
from strawberry.types.base import get_object_definition

from resolvers import policy
from resolvers.errors import InvalidArgument
from resolvers.ids import expect_global_id
from resolvers.mutations.card_numbers import TextField, refuse_card_numbers
from resolvers.mutations.outcome import ErrorCode as DomainErrorCode
from resolvers.mutations.outcome import Refused
from resolvers.mutations.outcome import UserError as DomainUserError
from schema.common import Info, pk
from schema.enums import ErrorCode

R = TypeVar("R")


@strawberry.type(description="Why a mutation refused its input; it changed nothing it refused.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path to the input field at fault, e.g. ['input', 'items', '0', 'quantity']."
    )
    message: str = strawberry.field(description="What went wrong, for people.")
    code: ErrorCode = strawberry.field(description="What went wrong, for programs.")

    @classmethod
    def from_domain(cls, error: DomainUserError) -> UserError:
        return cls(
            field=None if error.field is None else list(error.field),
            message=error.message,
            code=ErrorCode[error.code.value],
        )


def user_errors(errors: list[DomainUserError]) -> list[UserError]:
    return [UserError.from_domain(e) for e in errors]


def decode_id(global_id: str, type_name: str, *field: str) -> int:
    """The key of an input id; a malformed or wrong-type id is an INVALID user error."""
    try:
        return expect_global_id(global_id, type_name, argument=field[-1] if field else "id")
    except InvalidArgument:
        raise Refused.one(DomainErrorCode.INVALID, f"Not a valid {type_name} id.", *field) from None


def text_fields(info: Info, value: object, *path: str) -> Iterator[TextField]:
    """Every string in an input object, however deeply nested, with its field's path.

    Read from the input types themselves, so a string field added to any mutation's
    input is checked without anyone remembering to.
    """
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from text_fields(info, item, *path, str(index))
    elif (definition := get_object_definition(value)) is not None:
        names = info.schema.config.name_converter
        for field in definition.fields:
            child = getattr(value, field.python_name)
            yield from text_fields(info, child, *path, names.get_graphql_name(field))


async def attempt(
    info: Info, input: object, use_case: Callable[[int], Awaitable[R]]
) -> tuple[R | None, list[UserError]]:
    """Runs a use-case as the signed-in viewer: its result, or the refusal's errors.

    No valid token is an UNAUTHENTICATED GraphQL error, raised before any input is read.
    ``input`` is the mutation's input argument (None if it has none): a card number in
    any of its strings refuses the mutation before the use-case sees it.
    """
    viewer = await policy.current_viewer(info.context)
    try:
        refuse_card_numbers(text_fields(info, input, "input"))
        return await use_case(pk(viewer)), []
    except Refused as refusal:
        return None, user_errors(refusal.errors)
