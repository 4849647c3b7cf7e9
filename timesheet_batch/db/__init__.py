"""Database: models, engine, migrations and keyword-only data access functions."""
