"""The web app restates one domain table to place return buttons (which steps apply to a
return in which status); this keeps that copy equal to domain/returns.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

from domain.returns import ORDER_ACTION_OF, RETURN_TRANSITIONS

FORMAT_JS = Path(__file__).resolve().parents[2] / "app" / "web" / "static" / "format.js"


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
