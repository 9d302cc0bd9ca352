"""What a contract test names when it fails: the library, the version installed, and
the range pyproject.toml allows (the lock file pins one version inside it)."""

from __future__ import annotations

from importlib.metadata import version

# The ranges of pyproject.toml; each contract was checked against the locked version.
ALLOWED = {
    "strawberry-graphql": ">=0.341.2,<0.400 (checked on 0.341.2)",
    "aiodataloader": ">=0.4.3,<0.5 (checked on 0.4.3)",
    "sqlalchemy": ">=2.0.36,<2.2 (checked on 2.1.9)",
    "asyncpg": ">=0.30,<0.33 (checked on 0.32.0)",
    "prometheus-client": ">=0.21,<1 (checked on 0.26.0)",
    "uvicorn": ">=0.34,<1 (checked on 0.55.0, with websockets 17.4)",
    "python": "asyncio of CPython >=3.11 (checked on 3.11)",
}


def upgraded(library: str) -> str:
    """The failure message: which library moved, and what it was checked against."""
    installed = "" if library == "python" else f" {version(library)} is installed;"
    return (
        f"{library}:{installed} internals/__init__.py relies on a private part of it, "
        f"checked for {ALLOWED[library]}. Adapt internals/ (and this contract) to it."
    )
