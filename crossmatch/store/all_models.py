"""Imports every area's models so Alembic autogenerate sees all tables.

Each area adds one import line here when it adds tables.
"""

from crossmatch.store import models  # noqa: F401
