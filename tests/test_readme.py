"""Every ```graphql and ```sh example in README.md runs, as written, against a real server.

A newcomer copies them first; when one drifts from the code, this fails. An HTML comment
on the line before a block tells this test what a reader would do around it:

- ``<!-- docs-test: skip (reason) -->``: the block cannot run here (it serves until
  stopped, or needs a server of your own); the reason is required.
- ``<!-- docs-test: variables {"name": "path.in.previous.data"} -->``: a GraphQL block's
  variables, taken from the answer of the GraphQL block before it, as the prose says.
- ``<!-- docs-test: replace {"text": "replacement"} (reason) -->``: run a shell block
  with these substitutions (a size a test can wait for, a temporary folder).

GraphQL blocks are sent with the demo user's token; shell blocks run in the repository
root under ``bash -e -o pipefail``, with the server's environment (its database, its
secret) and ``ORDERCENTER_PORT`` set to its port, as for a reader who ran
``ORDERCENTER_PORT=… make run`` in the same folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.serving import running_server

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RUNNABLE = {"graphql", "sh"}
DIRECTIVE = re.compile(r"^<!-- docs-test: (\w+)(.*?) -->$")
MAX_SKIPS = 4
SHELL_TIMEOUT = 180


@dataclass
class Block:
    language: str
    text: str
    line: int  # of the opening fence, 1-based
    skip: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    replace: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.language})"


def _directive(block: Block, name: str, rest: str) -> None:
    rest = rest.strip()
    if name == "skip":
        reason = re.fullmatch(r"\((.+)\)", rest)
        assert reason, f"{block}: `docs-test: skip` needs a (reason)"
        block.skip = reason[1]
        return
    mapping, _, _ = rest.partition("} ")
    parsed = json.loads(mapping if mapping.endswith("}") else mapping + "}")
    assert isinstance(parsed, dict), f"{block}: `docs-test: {name}` takes a JSON object"
    if name == "variables":
        block.variables = parsed
    elif name == "replace":
        block.replace = parsed
    else:
        raise AssertionError(f"{block}: unknown directive `docs-test: {name}`")


def readme_blocks(text: str) -> list[Block]:
    """The fenced blocks of ``text`` with a language this test runs, with their directives."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = re.fullmatch(r"```(\w*)\s*", lines[i])
        if opening is None:
            i += 1
            continue
        end = lines.index("```", i + 1)
        block = Block(opening[1], "\n".join(lines[i + 1 : end]) + "\n", i + 1)
        directive = DIRECTIVE.match(lines[i - 1]) if i > 0 else None
        if directive is not None:
            _directive(block, directive[1], directive[2])
        if block.language in RUNNABLE:
            blocks.append(block)
        else:
            assert directive is None, f"{block}: a directive on a block that never runs"
        i = end + 1
    return blocks


def _at(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def _problems(answer: Any) -> list[str]:
    """What in a GraphQL answer shows that the example did not work."""
    if not isinstance(answer, dict):
        return []
    found = [f"errors: {answer['errors']}"] if answer.get("errors") else []
    if "data" in answer and answer["data"] is None:
        found.append("data is null")
    found += [f"userErrors: {errors}" for errors in _user_errors(answer.get("data"))]
    return found


def _user_errors(value: Any) -> list[Any]:
    if isinstance(value, dict):
        own = [value["userErrors"]] if value.get("userErrors") else []
        return own + [e for v in value.values() for e in _user_errors(v)]
    if isinstance(value, list):
        return [e for v in value for e in _user_errors(v)]
    return []


def run_shell(script: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run a README shell block; one that outlives SHELL_TIMEOUT (a server it starts, say)
    is stopped with everything it started, and fails."""
    process = subprocess.Popen(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=SHELL_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        return -1, stdout, f"still running after {SHELL_TIMEOUT} s; stopped\n{stderr}"
    finally:
        # Whatever the block left in the background goes with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    return process.returncode, stdout, stderr


def test_the_readme_marks_few_blocks_as_not_runnable() -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    assert {b.language for b in blocks} == RUNNABLE
    skipped = [b for b in blocks if b.skip]
    assert len(skipped) <= MAX_SKIPS, [str(b) for b in skipped]
    assert len(blocks) - len(skipped) >= 5


def test_the_parser_reads_directives() -> None:
    text = (
        "<!-- docs-test: skip (serves forever) -->\n```sh\nmake run\n```\n"
        '<!-- docs-test: variables {"id": "viewer.id"} -->\n```graphql\n{ a }\n```\n'
        '<!-- docs-test: replace {"1000": "20"} (smaller) -->\n```sh\nseed 1000\n```\n'
        "```json\n{}\n```\n"
    )
    skip, variables, replace = readme_blocks(text)
    assert (skip.skip, skip.line) == ("serves forever", 2)
    assert variables.variables == {"id": "viewer.id"}
    assert replace.replace == {"1000": "20"}
    with pytest.raises(AssertionError, match="needs a"):
        readme_blocks("<!-- docs-test: skip -->\n```sh\nx\n```\n")


def test_every_graphql_and_sh_example_in_the_readme_runs(tmp_path: Path) -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    failures: list[str] = []
    with running_server(users=8, orders_per_user=6) as server:
        port = server.url.rsplit(":", 1)[1]
        env = {**server.env, "ORDERCENTER_PORT": port, "DOCS_TEST_TMP": str(tmp_path)}
        previous: Any = None
        for block in blocks:
            if block.skip:
                continue
            if block.language == "graphql":
                try:
                    variables = {k: _at(previous, p) for k, p in block.variables.items()}
                except (KeyError, IndexError, TypeError) as error:
                    failures.append(f"{block}: no {error} in the answer before it: {previous}")
                    continue
                response = httpx.post(
                    server.url + "/graphql",
                    json={"query": block.text, "variables": variables},
                    headers={"Authorization": f"Bearer {server.demo_token}"},
                    timeout=60,
                )
                answer = response.json()
                problems = _problems(answer)
                if response.status_code != 200 or problems:
                    failures.append(f"{block}: HTTP {response.status_code}, {problems}")
                previous = answer.get("data")
                continue
            script = block.text
            for old, new in block.replace.items():
                assert old in script, f"{block}: nothing to replace: {old!r}"
                script = script.replace(old, new)
            returncode, stdout, stderr = run_shell(script, {**os.environ, **env})
            if returncode != 0:
                failures.append(f"{block}: exit {returncode}\n{stderr[-2000:]}")
                continue
            for line in stdout.splitlines():
                if line.startswith("{"):
                    problems = _problems(json.loads(line))
                    if problems:
                        failures.append(f"{block}: {problems}")
    assert not failures, "README examples that do not work as written:\n" + "\n\n".join(failures)
