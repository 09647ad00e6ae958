"""Opening the store: the URL, SQLite settings, and the schema version check.

The schema is Alembic's: a new store is created by running every migration; an older
store is refused with one line asking for `upgrade=True` (the CLI's `--upgrade-store`),
so data is never migrated behind the analyst's back; a store written by a newer sitewatch
is refused too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sitewatch.base.errors import InputError

MIGRATIONS = Path(__file__).parent / "migrations"


def default_url() -> str:
    """`SITEWATCH_DB`, else a SQLite file in the user's data folder."""
    if os.environ.get("SITEWATCH_DB"):
        return os.environ["SITEWATCH_DB"]
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'sitewatch' / 'store.db'}"


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy, not pysqlite, says when a transaction begins
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")  # a second writer waits instead of failing
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses no committed run
    cursor.close()


def _sqlite_begin(connection) -> None:
    """BEGIN, or BEGIN IMMEDIATE for writers that asked for the lock up front (SQLAlchemy's recipe)."""
    mode = connection.get_execution_options().get("sqlite_begin", "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def _short(exc: Exception) -> str:
    text = " ".join(str(getattr(exc, "orig", exc)).split())
    return text[:200]


@dataclass
class Store:
    engine: Engine
    url: str

    def session(self) -> Session:
        return sessionmaker(self.engine, expire_on_commit=False)()

    def revision(self) -> str | None:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def upgrade(self) -> None:
        config = _alembic_config()
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")


def open_store(url: str | None = None, *, upgrade: bool = False) -> Store:
    """Connect, create the schema in an empty database, and check an existing one's version."""
    url = url or default_url()
    shown = url.split("@")[-1] if "@" in url else url  # never print a password
    try:
        store = Store(make_engine(url), url)
        with store.engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
        current = store.revision()
    except OperationalError as exc:
        raise InputError(f"database {shown} cannot be reached ({_short(exc)}); check SITEWATCH_DB") from exc
    head = head_revision()
    if current is None and not (tables - {"alembic_version"}):
        store.upgrade()  # a new store
    elif current is None:
        raise InputError(
            f"database {shown} holds tables but no sitewatch schema version; point SITEWATCH_DB at a sitewatch "
            "store or an empty database"
        )
    elif current != head:
        known = {s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}
        if current not in known:
            raise InputError(f"database {shown} was written by a newer sitewatch (schema {current}); upgrade sitewatch")
        if not upgrade:
            raise InputError(
                f"database {shown} has schema {current}, older than this sitewatch's {head}; "
                "back it up, then run again with --upgrade-store"
            )
        store.upgrade()
    return store
