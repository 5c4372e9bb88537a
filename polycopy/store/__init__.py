"""SQLite state, one file in WAL mode. Each table has one owning actor; see the modules here."""
from polycopy.store.db import create_schema, open_db

__all__ = ["create_schema", "open_db"]
