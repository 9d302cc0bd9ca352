"""The engine's tunables, importable without numpy or scipy.

The server builds its refresher at start-up, long before (and often without) any
refresh: keeping the config here lets it do so without loading the numeric stack.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Tunables; the defaults were chosen on the validation splits of seeds 7 and 11 (each
    buyer's second-to-last order held out; ``judge``), the diversity caps on those of
    seeds 7 to 19 (``tests/recommendations/validate.py``), never on the held-out orders."""

    list_size: int = 20
    # Diversity: at most this many picks from one shop, and from one category. Half the
    # list: the top ten follow the evidence alone (caps of 6 and 8 cost 0.007 of
    # hit-rate@10 on the validation splits of all five seeds), the rest is spread out.
    per_shop: int = 10
    per_category: int = 10
    # Neighbours kept per item: bounds the model at n x neighbours, whatever n is.
    neighbours: int = 100
    # Damps similarities resting on few shared users: cos * co / (co + shrinkage).
    shrinkage: float = 2.0
    # Added per history item to every other product of its category.
    category_prior: float = 3.0
    bought_weight: float = 1.0
    tagged_weight: float = 1.0
    viewed_weight: float = 1.0
    # Older behaviour counts for less: its weight halves every this many days.
    half_life_days: float = 180.0
    # Personal scores are multiplied by popularity ** exponent: among equally
    # similar products, the one more people buy is the likelier next purchase.
    popularity_exponent: float = 2.0
    trending_days: float = 14.0
    # Intent: a product the buyer viewed or tagged lately and has not bought is the
    # likeliest next purchase (buyers view and tag what a video shows, then buy some
    # of it). Its weight halves every this many days; a tag counts this many views.
    intent_half_life_days: float = 1.0
    tag_intent: float = 3.0
    # A pending video session (``engine._sessions``): products of one shop viewed or
    # tagged within this many minutes of each other, at least this many of them, in
    # the last this many days, none of them ordered since; each look's pull halves
    # every this many days. The likeliest next order of all: its share of the scores
    # is ``session_weight``, far above the rest, so a buyer with a session gets it
    # first and one without gets re-buys and similar products first.
    session_gap_minutes: float = 60.0
    session_min_products: int = 2
    session_max_days: float = 7.0
    session_half_life_days: float = 1.5
    session_weight: float = 2.0
    # The rest of a session's basket (``engine._session_basket``): each session product
    # hands its share on to its shop's other products by popularity, ``same_category``
    # of it to those of its own category; all of it when it cannot be shown, else the
    # ``basket_of_shown`` part of it.
    basket_of_shown: float = 0.05
    session_same_category: float = 0.7
    # How much of a buyer's next order each kind of evidence explains: the scores of
    # intent, re-buys and similarity each add up to these (intent's fading with the
    # age of the buyer's latest view or tag).
    intent_weight: float = 0.05
    similar_weight: float = 0.2
    # Buy again: a product bought before comes back when its category's products are
    # re-bought by at least this share of their buyers more than the typical category's
    # (a consumable), in proportion to how due it is (time since bought / the category's
    # cycle, capped).
    again_min_rate: float = 0.1
    again_weight: float = 0.5
    # How many cycles overdue still raise a re-buy's score.
    again_due_cap: float = 1.5

    def __post_init__(self) -> None:
        if self.list_size < 1 or self.per_shop < 1 or self.per_category < 1:
            raise ValueError("list_size, per_shop and per_category must be at least 1")
        if self.neighbours < 1 or self.trending_days <= 0 or self.half_life_days <= 0:
            raise ValueError("neighbours, trending_days and half_life_days must be positive")
        if self.intent_half_life_days <= 0:
            raise ValueError("intent_half_life_days must be positive")
        if min(self.session_gap_minutes, self.session_max_days, self.session_half_life_days) <= 0:
            raise ValueError(
                "session_gap_minutes, session_max_days and session_half_life_days must be positive"
            )
        if min(self.session_weight, self.basket_of_shown) < 0:
            raise ValueError("session weights cannot be negative")
        if not 0 <= self.session_same_category <= 1:
            raise ValueError("session_same_category is a share: 0 to 1")
        if min(self.tag_intent, self.intent_weight, self.again_weight) < 0:
            raise ValueError("tag_intent, intent_weight and again_weight cannot be negative")


DEFAULT_CONFIG = EngineConfig()
