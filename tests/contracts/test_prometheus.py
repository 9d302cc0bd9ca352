"""prometheus-client's private parts that internals/ relies on: a metric's ``_name``
and ``_documentation`` (a custom collector reports sampled gauges under them)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from internals import name_and_help
from tests.contracts.pins import upgraded

PROMETHEUS = upgraded("prometheus-client")


def test_name_and_help_are_what_the_metric_exposes() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("contract_open_things", "Things open right now.", registry=registry)
    (family,) = gauge.collect()
    assert name_and_help(gauge) == (family.name, family.documentation), PROMETHEUS
    assert name_and_help(gauge) == ("contract_open_things", "Things open right now."), PROMETHEUS
