"""How the execution paths' answers are told apart, compared and counted.

Each app records, through the tracing seam every operation already passes
(app/tracing.py, ``Instrumented.took``), the execution path that answered; a discrepancy
is reported with the document, the variables, the viewer, the database and the bytes
around the first difference.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import INVALID_SPAN_CONTEXT, NonRecordingSpan

from app.tracing import EXECUTION_PATH, Tracing
from app.vocabulary import REFUSED

# Warnings of these loggers are defects even when the answer is right in the end.
WATCHED_LOGGERS = ("ordercenter.plans", "ordercenter.batching")


class _PathSpan(NonRecordingSpan):
    """A span that keeps the one attribute these tests read: the execution path."""

    def __init__(self) -> None:
        super().__init__(INVALID_SPAN_CONTEXT)
        self.path = REFUSED

    def set_attribute(self, key: str, value: Any) -> None:
        if key == EXECUTION_PATH:
            self.path = str(value)


class PathRecorder(Tracing):
    """Tracing that exports nothing and remembers the path of the last operation."""

    def __init__(self) -> None:
        super().__init__()
        self.last = REFUSED

    @contextmanager
    def operation(self, name: str | None, *, transport: str, request_id: str) -> Iterator[Any]:
        span = _PathSpan()
        self.last = REFUSED
        try:
            yield span
        finally:
            self.last = span.path


@dataclass
class Answer:
    status: int
    body: bytes
    path: str
    troubles: list[str]  # what went wrong on the way, whatever the answer
    out_at_answer: int = 0  # connections still taken when the answer was out


@dataclass
class Tally:
    """How many answers each path gave, per database: coverage made visible."""

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    declined: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def count(self, database: str, app: str, path: str) -> None:
        self.counts[(database, app, path)] += 1

    def lines(self) -> list[str]:
        out = []
        for database in sorted({d for d, _, _ in self.counts}):
            parts = []
            for app in ("generic", "compiled", "sql"):
                paths = {p: n for (d, a, p), n in self.counts.items() if d == database and a == app}
                shown = ", ".join(f"{p} {n}" for p, n in sorted(paths.items()))
                parts.append(f"{app} app: {shown}")
            out.append(f"{database}: " + "; ".join(parts))
            reasons = {r: n for (d, _, r), n in self.declined.items() if d == database}
            if reasons:
                top = sorted(reasons.items(), key=lambda item: -item[1])[:8]
                out.append(
                    f"{database} declined (why, documents): "
                    + "; ".join(f"{r} {n}" for r, n in top)
                )
        return out


TALLY = Tally()


@dataclass
class Differing:
    """What a discrepancy report says: enough to reproduce it by hand."""

    database: str
    viewer: str
    app: str
    path: str
    document: str
    variables: dict[str, Any]
    expected: Answer
    got: Answer

    def __str__(self) -> str:
        a, b = self.expected.body, self.got.body
        at = next(
            (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
        )
        return (
            f"the {self.app} app ({self.path}) differs from graphql-core on {self.database} "
            f"for the {self.viewer}\n"
            f"document: {self.document}\nvariables: {self.variables}\n"
            f"status {self.expected.status} vs {self.got.status}\n"
            f"generic: {a[max(0, at - 150) : at + 100]!r}\n"
            f"{self.path}: {b[max(0, at - 150) : at + 100]!r}"
        )


@dataclass
class Trouble:
    """Something a path did wrong on the way to an answer, whatever the answer."""

    what: str

    def __str__(self) -> str:
        return self.what


class Complaints(logging.Handler):
    """Warnings of the plans' and loaders' loggers: a plan that could not be compiled or
    whose statement failed, loaders that stalled, are defects even when the answer is
    right in the end."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
