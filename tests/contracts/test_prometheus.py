"""prometheus-client's private parts that internals/ relies on: a metric's ``_name``
and ``_documentation`` (a custom collector reports sampled gauges under them); a
histogram's sum, bounds and buckets (internals.histograms.observe_many)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Gauge, Histogram

from internals import name_and_help
from internals.histograms import observe_many
from tests.contracts.pins import upgraded

PROMETHEUS = upgraded("prometheus-client")


def test_name_and_help_are_what_the_metric_exposes() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("contract_open_things", "Things open right now.", registry=registry)
    (family,) = gauge.collect()
    assert name_and_help(gauge) == (family.name, family.documentation), PROMETHEUS
    assert name_and_help(gauge) == ("contract_open_things", "Things open right now."), PROMETHEUS


def _exposed(histogram: Histogram) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in histogram.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_observe_many_exposes_what_observing_each_amount_does() -> None:
    bounds = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
    # On a bound, between bounds, beyond the last one, zero, and repeats.
    amounts = [0.0, 0.005, 0.0051, 0.01, 0.3, 0.3, 1, 29.9, 30, 31, 1000, 0.07]
    one_at_a_time = Histogram("contract_lag_one", "Lags.", buckets=bounds, registry=None)
    for amount in amounts:
        one_at_a_time.observe(amount)
    together = Histogram("contract_lag_one", "Lags.", buckets=bounds, registry=None)
    observe_many(together, amounts[:5])
    observe_many(together, [])
    observe_many(together, amounts[5:])
    expected = _exposed(one_at_a_time)
    got = _exposed(together)
    assert got.keys() == expected.keys(), PROMETHEUS
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), (key, PROMETHEUS)
    assert got[("contract_lag_one_count", ())] == len(amounts), PROMETHEUS


def test_observe_many_refuses_a_labelled_parent_as_observe_does() -> None:
    parent = Histogram("contract_lag_labelled", "Lags.", ["kind"], registry=None)
    with pytest.raises(ValueError, match="missing label values"):
        parent.observe(1.0)
    with pytest.raises(ValueError, match="missing label values"):
        observe_many(parent, [1.0])
