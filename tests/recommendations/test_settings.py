"""The refresher's debounce and model age come from settings, and the server uses them."""

from __future__ import annotations

import inspect

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.settings import Settings
from resolvers.recommendations.refresher import RecommendationRefresher
from tests.conftest import TEST_SECRET


def _settings(**values: float) -> Settings:
    return Settings(
        env="test", jwt_secret=TEST_SECRET, database_url="sqlite:///unused.db", **values
    )


def test_defaults_match_the_refresher() -> None:
    settings = _settings()
    defaults = inspect.signature(RecommendationRefresher).parameters
    assert settings.recommendation_debounce_seconds == defaults["debounce_seconds"].default
    assert settings.recommendation_debounce_seconds == 1.0
    assert settings.recommendation_model_max_age_seconds == 600.0


def test_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERCENTER_RECOMMENDATION_DEBOUNCE_SECONDS", "0.5")
    monkeypatch.setenv("ORDERCENTER_RECOMMENDATION_MODEL_MAX_AGE_SECONDS", "90")
    settings = _settings()
    assert settings.recommendation_debounce_seconds == 0.5
    assert settings.recommendation_model_max_age_seconds == 90.0


@pytest.mark.parametrize(
    "name", ["recommendation_debounce_seconds", "recommendation_model_max_age_seconds"]
)
def test_negative_durations_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match=name):
        _settings(**{name: -1})


async def test_the_server_builds_its_refresher_from_settings(engine: AsyncEngine) -> None:
    settings = _settings(
        recommendation_debounce_seconds=0.25,
        recommendation_model_max_age_seconds=30,
        sweep_interval_seconds=0,
    )
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        refresher = app.state.refresher
        assert isinstance(refresher, RecommendationRefresher)
        assert refresher.debounce_seconds == 0.25
        assert refresher.model_max_age_seconds == 30.0
