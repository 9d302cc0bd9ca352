"""The engine on validation splits only, beside the oracle, by hidden intent; test-only.

Tuning reads these figures, never the held-out ones: for each seed the held-out split
(each buyer's latest order) is cut off first, and of what is left each buyer's latest
remaining order is held out again (``hold_out_latest(split.train)``). The oracle and
the per-intent breakdown say where the engine loses hits; the engine itself still
reads only the API's tables.

    .venv/bin/python -m tests.recommendations.validate --seeds 7 11 --users 500
    .venv/bin/python -m tests.recommendations.validate --set session_weight=3 --set ...

Seeded datasets are cached under ``--cache`` (pickles), so runs after the first take
seconds per seed.
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import sys
import tempfile
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from db.engine import create_engine, create_session_factory
from db.migrate import upgrade_async
from db.seed import IntentLog, SeedSize, seed_database
from resolvers.recommendations.data import load_everything
from resolvers.recommendations.engine import DEFAULT_CONFIG, Behaviour, EngineConfig, Products
from resolvers.recommendations.evaluate import hold_out_latest
from resolvers.recommendations.judge import ANCHOR, engine_ranker, score_lists
from tests.recommendations.oracle import oracle_ranker


async def _seed(url: str, seed: int, users: int) -> tuple[Products, Behaviour, IntentLog]:
    engine = create_engine(url)
    try:
        await upgrade_async(engine)
        log = IntentLog()
        size = SeedSize(users=users, orders_per_user=50)
        await seed_database(engine, size=size, rng_seed=seed, now=ANCHOR, intent_log=log)
        products, behaviour, _ = await load_everything(create_session_factory(engine))
    finally:
        await engine.dispose()
    return products, behaviour, log


def dataset(seed: int, users: int, cache: Path) -> tuple[Products, Behaviour, IntentLog]:
    """The seed's catalog, behaviour (as the API wrote it) and hidden intent; cached."""
    path = cache / f"seed{seed}-users{users}.pickle"
    if path.exists():
        with path.open("rb") as f:
            data: tuple[Products, Behaviour, IntentLog] = pickle.load(f)  # noqa: S301
            return data
    with tempfile.TemporaryDirectory(prefix="ordercenter-validate-") as folder:
        url = f"sqlite:///{Path(folder) / 'v.db'}"
        products, behaviour, log = asyncio.run(_seed(url, seed, users))
    cache.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        pickle.dump((products, behaviour, log), f)
    return products, behaviour, log


def _config(settings: list[str]) -> EngineConfig:
    kinds = {f.name: f.type for f in fields(EngineConfig)}
    changes: dict[str, object] = {}
    for setting in settings:
        name, value = setting.split("=", 1)
        if name not in kinds:
            raise SystemExit(f"no setting {name}")
        changes[name] = int(value) if kinds[name] in (int, "int") else float(value)
    return replace(DEFAULT_CONFIG, **changes)  # type: ignore[arg-type]


def validate(
    products: Products, behaviour: Behaviour, log: IntentLog, config: EngineConfig, k: int
) -> dict[str, tuple[float, float, int]]:
    """Per intent kind (and all): (engine hit-rate, oracle hit-rate, buyers)."""
    validation = hold_out_latest(hold_out_latest(behaviour).train)
    buyers = np.asarray(sorted(validation.held_out), dtype=np.int64)
    held = [validation.held_out[u] for u in buyers.tolist()]
    engine = score_lists(engine_ranker(config)(products, validation, buyers, k), held, k).hit
    rank = oracle_ranker(log, log.product_weights, log.product_categories)
    oracle = score_lists(rank(products, validation, buyers, k), held, k).hit
    kinds = np.asarray([log.orders[validation.held_order[u]].kind for u in buyers.tolist()])
    out = {"all": (float(engine.mean()), float(oracle.mean()), len(buyers))}
    for kind in sorted(set(kinds.tolist())):
        mask = kinds == kind
        out[kind] = (float(engine[mask].mean()), float(oracle[mask].mean()), int(mask.sum()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "oc-validate")
    args = parser.parse_args()
    config = _config(args.set)
    totals: dict[str, list[tuple[float, float, int]]] = {}
    for seed in args.seeds:
        products, behaviour, log = dataset(seed, args.users, args.cache)
        result = validate(products, behaviour, log, config, args.k)
        for kind, row in result.items():
            totals.setdefault(kind, []).append(row)
        cells = "  ".join(f"{kind} {e:.4f}/{o:.4f} ({n})" for kind, (e, o, n) in result.items())
        sys.stdout.write(f"seed {seed}: engine/oracle {cells}\n")
    for kind, rows in totals.items():
        engine = float(np.mean([r[0] for r in rows]))
        oracle = float(np.mean([r[1] for r in rows]))
        sys.stdout.write(
            f"mean {kind}: engine {engine:.4f} oracle {oracle:.4f} ratio {engine / oracle:.3f}\n"
        )


if __name__ == "__main__":
    main()
