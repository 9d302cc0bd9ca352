"""Who may see a row of each type with a global id is one declaration (policy.NODE_SIGHTS),
which ``load_node`` and the SQL plans (schema/sql_nodes.py) both read."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from resolvers import policy
from resolvers.ids import NODE_TYPES
from resolvers.loaders import relation_of
from schema.sql_nodes import visible
from schema.sql_plans import _Compiler, writing


def test_every_type_with_a_global_id_has_a_sight_and_a_table() -> None:
    assert set(policy.NODE_SIGHTS) == NODE_TYPES
    for sight in policy.NODE_SIGHTS.values():
        relation = relation_of(sight.loader)
        assert relation is not None
        assert relation.column == "id"
        assert not relation.many


def test_shown_is_what_the_owners_rules_say() -> None:
    card = SimpleNamespace(user_id=7, removed_at=None)
    assert policy.may_see_payment_method(7, card)  # type: ignore[arg-type]
    assert not policy.may_see_payment_method(8, card)  # type: ignore[arg-type]
    card.removed_at = datetime(2026, 1, 1, tzinfo=UTC)
    assert not policy.may_see_payment_method(7, card)  # type: ignore[arg-type]
    recommendation = SimpleNamespace(user_id=7, dismissed=False)
    assert policy.may_see_recommendation(7, recommendation)  # type: ignore[arg-type]
    recommendation.dismissed = True
    assert not policy.may_see_recommendation(7, recommendation)  # type: ignore[arg-type]
    assert policy.may_dismiss_recommendation(7, recommendation)  # type: ignore[arg-type]


def test_the_sql_condition_is_made_from_the_declaration() -> None:
    sights = policy.NODE_SIGHTS
    with writing("postgresql"):
        c = _Compiler()
        assert visible(c, sights["Shop"], "r") == "1 = 1"
        assert visible(c, sights["User"], "r") == "r.id = :viewer"
        assert visible(c, sights["TaggedItem"], "r") == "r.user_id = :viewer"
        assert visible(c, sights["PaymentMethod"], "r") == (
            "r.user_id = :viewer AND r.removed_at IS NULL"
        )
        assert visible(c, sights["Recommendation"], "r") == (
            "r.user_id = :viewer AND r.dismissed IS FALSE"
        )
        payment = visible(c, sights["Payment"], "r")
        assert ".id = r.order_id AND (" in payment
        assert "'operator'" in payment  # operators see every order
        order = visible(c, sights["Order"], "r")
        assert ".id = r.id AND (" in order
