"""Persistence: SQLAlchemy models and repositories; SQLite by default, PostgreSQL by URL."""
