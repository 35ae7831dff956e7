"""Flask extensions, created unbound and initialised by create_app()."""
from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))

if TYPE_CHECKING:  # what db.Model is, said so that type checkers can follow the models
    from typing import ClassVar

    from flask_sqlalchemy.model import Model as _FlaskModel
    from sqlalchemy import Table
    from sqlalchemy.orm import DeclarativeBase

    class Model(_FlaskModel, DeclarativeBase):
        __table__: ClassVar[Table]   # every model names a __tablename__: a Table, not any FromClause
else:
    Model = db.Model
migrate = Migrate()
csrf = CSRFProtect()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite: write-ahead log, enforced foreign keys, wait (not fail) on a busy writer, and a
    page cache of up to 32 MB a connection (the default 2 MB cannot hold the ticket index a bulk
    link rewrites: linking 100,000 tickets took 2.6 s with it, 1.6 s with this)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.close()
