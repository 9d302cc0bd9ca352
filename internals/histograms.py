"""prometheus-client's Histogram, observed many amounts at once.

``Histogram.observe`` takes one amount: a lock for its sum, a scan of the bounds and a
lock for its bucket, ~1 us each time. A live event's fan-out observes one lag per
subscriber (thousands per event), where one update of each bucket touched and of the
sum does the same. Its sum, bounds and buckets (``_sum``, ``_upper_bounds``,
``_buckets``) and the check that it is not a labelled parent
(``_raise_if_not_observable``) are not a public API of prometheus-client; the contract
test (tests/contracts/test_prometheus.py) holds this to what ``observe`` exposes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence

from prometheus_client import Histogram


def observe_many(histogram: Histogram, amounts: Sequence[float]) -> None:
    """As ``histogram.observe(amount)`` for each amount (without exemplars)."""
    check: Callable[[], None] = histogram._raise_if_not_observable  # untyped there
    check()
    if not amounts:
        return
    # An amount goes in the first bucket whose upper bound is at least it (the last
    # bound is +Inf), as ``observe`` finds it.
    counts = Counter(bisect_left(histogram._upper_bounds, amount) for amount in amounts)
    for index, count in counts.items():
        histogram._buckets[index].inc(count)
    histogram._sum.inc(sum(amounts))
