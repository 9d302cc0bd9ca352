"""The committed SDL is current, and every part of the API is described."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
)

from schema.definition import schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"
SKETCH_NAMES = {
    # A sample of the contract's names that frontends rely on.
    "Query": {"viewer", "node", "nodes", "product"},
    "User": {
        "id",
        "handle",
        "displayName",
        "orders",
        "order",
        "orderTabs",
        "paymentMethods",
        "payments",
        "taggedItems",
        "recentlyViewed",
        "recommendations",
    },
    "Order": {
        "id",
        "number",
        "status",
        "tab",
        "paymentStatus",
        "version",
        "cancelReason",
        "placedAt",
        "updatedAt",
        "shop",
        "items",
        "subtotal",
        "shippingFee",
        "tax",
        "total",
        "payments",
        "shipment",
        "shippingAddress",
        "timeline",
        "availableActions",
    },
    "OrderEvent": {
        "id",
        "cursor",
        "order",
        "fromStatus",
        "toStatus",
        "orderVersion",
        "actor",
        "note",
        "occurredAt",
    },
    "OrderConnection": {"edges", "pageInfo", "totalCount"},
    "PageInfo": {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"},
    "Recommendation": {"id", "product", "score", "reason", "basedOn"},
}


def test_committed_schema_is_current() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == schema.as_str() + "\n", (
        "schema.graphql is stale: run `make schema` (ordercenter export-schema) and commit it"
    )


def test_every_type_field_argument_and_value_is_described() -> None:
    missing: list[str] = []
    for name, named_type in schema._schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not named_type.description:
            missing.append(name)
        if isinstance(named_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing.extend(
                    f"{name}.{field_name}({arg_name})"
                    for arg_name, arg in field.args.items()
                    if not arg.description
                )
        elif isinstance(named_type, GraphQLInputObjectType):
            missing.extend(
                f"{name}.{field_name}"
                for field_name, field in named_type.fields.items()
                if not field.description
            )
        elif isinstance(named_type, GraphQLEnumType):
            missing.extend(
                f"{name}.{value_name}"
                for value_name, value in named_type.values.items()
                if not value.description
            )
    assert missing == []


def test_contract_names_are_present() -> None:
    for type_name, fields in SKETCH_NAMES.items():
        graphql_type = schema._schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType)
        assert fields <= set(graphql_type.fields), type_name
