"""Persistence: SQLModel tables, the async engine, Alembic migrations and the demo seed."""
