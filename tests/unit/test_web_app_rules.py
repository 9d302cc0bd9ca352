"""The web app restates one domain table to place return buttons (which steps apply to a
return in which status); this keeps that copy equal to domain/returns.py. Everything else
it offers follows the order's availableActions: the names it looks for must be actions."""

from __future__ import annotations

import json
import re
from pathlib import Path

from domain.order_status import OrderAction
from domain.returns import ORDER_ACTION_OF, RETURN_TRANSITIONS

STATIC = Path(__file__).resolve().parents[2] / "app" / "web" / "static"
FORMAT_JS = STATIC / "format.js"
AFTER_DELIVERY_JS = STATIC / "screens" / "after-delivery.js"


def web_return_steps() -> dict[str, list[str]]:
    found = re.search(r"export const RETURN_STEPS = (\{.*?\});", FORMAT_JS.read_text(), re.S)
    assert found, "format.js no longer defines RETURN_STEPS"
    # A JS object of string arrays: quote its keys and it is JSON.
    text = re.sub(r"(\w+):", r'"\1":', found.group(1))
    text = re.sub(r",\s*([}\]])", r"\1", text)
    steps: dict[str, list[str]] = json.loads(text)
    return steps


def test_the_web_apps_return_steps_are_the_domains() -> None:
    expected: dict[str, set[str]] = {}
    for transition in RETURN_TRANSITIONS:
        action = ORDER_ACTION_OF[transition.action].name
        expected.setdefault(transition.source.name, set()).add(action)
    assert {status: set(actions) for status, actions in web_return_steps().items()} == expected


def test_the_web_app_asks_for_actions_that_exist() -> None:
    # A misspelt name would hide its button for everyone, silently.
    asked = {
        name
        for script in STATIC.rglob("*.js")
        if "vendor" not in script.parts
        for name in re.findall(r'\bcan\.has\("(\w+)"\)', script.read_text())
    }
    assert asked, "the app no longer reads availableActions as `can`"
    assert asked <= {action.value for action in OrderAction}


def test_reviews_are_offered_by_the_orders_actions_not_its_status() -> None:
    # The form and the Edit button follow REVIEW / EDIT_REVIEW (who the viewer is, lines
    # left, the edit window), never a status the app would restate.
    script = AFTER_DELIVERY_JS.read_text()
    assert 'can.has("REVIEW")' in script
    assert 'can.has("EDIT_REVIEW")' in script
    assert "COMPLETED" not in script
