"""A least-recently-used map bounded by entry count and by the bytes its entries weigh.

Every cache a client can fill with documents of its choosing (parsed documents, compiled
plans, registered persisted queries) is one of these: bounded by count alone, a cache of
512 one-megabyte documents holds half a gigabyte.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class WeighedLRU(Generic[K, V]):
    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V, weight: int) -> None:
        """Keep ``value``, weighing ``weight`` bytes; one heavier than the whole cache
        is not kept at all."""
        previous = self._entries.pop(key, None)
        if previous is not None:
            self.bytes -= previous[1]
        if weight > self.max_bytes:
            return
        self._entries[key] = (value, weight)
        self.bytes += weight
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self.bytes -= evicted
