"""Where committed order events are announced (the subscriptions' wake-up)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class EventPublisher(Protocol):
    async def publish(self, event_ids: Sequence[int]) -> None:
        """Announce ``order_events`` rows that have been committed."""
        ...


class NoPublisher:
    """For contexts with nobody listening (CLI tools, tests of reads)."""

    async def publish(self, event_ids: Sequence[int]) -> None:
        return None
