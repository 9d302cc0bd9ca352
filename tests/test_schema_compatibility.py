"""No schema change breaks a client unnoticed.

``schema.graphql`` is compared with the schema of the latest release in CHANGELOG.md
(read from git at the commit the changelog names) by graphql-core's breaking-change
finder; each breaking change must be listed under the next version's "Breaking changes",
in graphql-core's own words, so a release's notes cannot forget one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from graphql import (
    DocumentNode,
    GraphQLSchema,
    ObjectTypeDefinitionNode,
    build_ast_schema,
    build_schema,
    find_breaking_changes,
    parse,
)

ROOT = Path(__file__).resolve().parent.parent
CHANGELOG = ROOT / "CHANGELOG.md"
RELEASE = re.compile(r"^## (\d+\.\d+\.\d+) \(commit ([0-9a-f]{7,40})\b", re.MULTILINE)
NEXT = re.compile(r"^## (\d+\.\d+\.\d+) \(unreleased\)", re.MULTILINE)


@dataclass(frozen=True)
class Changelog:
    released: str  # the latest release's version
    commit: str  # ... and the commit its schema.graphql is read from
    upcoming: str  # the next version
    breaking: str  # the text of the next version's "Breaking changes" section


def read_changelog(text: str) -> Changelog:
    upcoming = NEXT.search(text)
    release = RELEASE.search(text)
    assert upcoming is not None, "CHANGELOG.md needs a '## X.Y.Z (unreleased)' section"
    assert release is not None, "CHANGELOG.md needs a '## X.Y.Z (commit <sha>, date)' release"
    assert upcoming.start() < release.start(), "the unreleased version goes above the releases"
    section = text[upcoming.end() : release.start()]
    heading = re.search(r"^### Breaking changes$", section, re.MULTILINE)
    assert heading is not None, f"{upcoming[1]} needs a '### Breaking changes' section"
    following = re.search(r"^### ", section[heading.end() :], re.MULTILINE)
    end = heading.end() + (following.start() if following else len(section))
    return Changelog(
        released=release[1],
        commit=release[2],
        upcoming=upcoming[1],
        breaking=section[heading.end() : end],
    )


def unlisted_breaking_changes(old: GraphQLSchema, new: GraphQLSchema, listed: str) -> list[str]:
    """Breaking changes from ``old`` to ``new`` whose description is not in ``listed``."""
    return [
        change.description
        for change in find_breaking_changes(old, new)
        if change.description not in listed
    ]


def released_schema(commit: str) -> str:
    git = shutil.which("git")
    if git is None:
        pytest.fail("git is needed to read the released schema.graphql; install it")
    shown = subprocess.run(
        [git, "show", f"{commit}:schema.graphql"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0:
        pytest.fail(
            f"cannot read schema.graphql at {commit}, the release CHANGELOG.md names: "
            f"{shown.stderr.strip()} (a shallow clone? run `git fetch --unshallow`)"
        )
    return shown.stdout


def test_schema_graphql_breaks_nothing_the_changelog_does_not_list() -> None:
    changelog = read_changelog(CHANGELOG.read_text(encoding="utf-8"))
    old = build_schema(released_schema(changelog.commit))
    new = build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))
    unlisted = unlisted_breaking_changes(old, new, changelog.breaking)
    assert not unlisted, (
        f"schema.graphql breaks clients of {changelog.released}; list each change under "
        f"'## {changelog.upcoming} (unreleased)' / '### Breaking changes' in CHANGELOG.md "
        "(or undo it):\n" + "\n".join(f"- {change}" for change in unlisted)
    )


# The check itself, on changes planted into today's schema.

CURRENT = (ROOT / "schema.graphql").read_text(encoding="utf-8")


def _without_field(sdl: str, type_name: str, field: str) -> DocumentNode:
    document = parse(sdl)
    definitions = []
    for definition in document.definitions:
        if isinstance(definition, ObjectTypeDefinitionNode) and definition.name.value == type_name:
            kept = tuple(f for f in definition.fields or () if f.name.value != field)
            assert len(kept) == len(definition.fields or ()) - 1, f"{type_name}.{field}?"
            definition = replace(definition, fields=kept)
        definitions.append(definition)
    return replace(document, definitions=tuple(definitions))


def test_a_removed_field_is_reported_unless_listed() -> None:
    old = build_schema(CURRENT)
    new = build_ast_schema(_without_field(CURRENT, "OrderEvent", "note"))
    assert unlisted_breaking_changes(old, new, "None.") == ["Field OrderEvent.note was removed."]
    listed = "\n- Field OrderEvent.note was removed. Read it from the order's timeline instead.\n"
    assert unlisted_breaking_changes(old, new, listed) == []


def test_an_added_field_is_not_a_breaking_change() -> None:
    old = build_ast_schema(_without_field(CURRENT, "OrderEvent", "note"))
    new = build_schema(CURRENT)
    assert unlisted_breaking_changes(old, new, "None.") == []


def test_the_changelog_is_read_as_documented() -> None:
    changelog = read_changelog(CHANGELOG.read_text(encoding="utf-8"))
    assert changelog.released == "0.1.0"
    assert changelog.upcoming == "0.2.0"
    assert changelog.breaking.strip() == "None."
