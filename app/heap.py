"""How a serving process sets up Python's cycle collector.

A page request allocates tens of thousands of container objects, nearly all freed by
reference counting when it ends. With the default threshold (700) the collector ran
~4 times a request, each time also walking every live object of the requests in
flight and promoting them, and full collections walked the ~150,000 objects that
imports and start-up leave behind: about a quarter of a request's CPU, and pauses of
hundreds of milliseconds. Start-up objects are moved out of the collector's sight
(``gc.freeze``) and young collections wait for 50,000 net allocations.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def settle() -> None:
    """Call once, when the application is built and before it serves."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
