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
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from sitewatch.base.errors import InputError
from sitewatch.base.safety import mask_url

MIGRATIONS = Path(__file__).parent / "migrations"


def default_url() -> str:
    """`SITEWATCH_DB`, else a SQLite file in the user's data folder."""
    if os.environ.get("SITEWATCH_DB"):
        return os.environ["SITEWATCH_DB"]
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'sitewatch' / 'store.db'}"


def default_looks_dir(url: str | None = None) -> Path:
    """Where stored runs keep their looks for the workbench (`sitewatch.report.looks`).

    `SITEWATCH_LOOKS`, else beside a SQLite store (`<file>.looks/`), else the user's data folder.
    """
    if os.environ.get("SITEWATCH_LOOKS"):
        return Path(os.environ["SITEWATCH_LOOKS"])
    url = url or default_url()
    if url.startswith("sqlite:///") and url.split("///", 1)[-1] not in ("", ":memory:"):
        path = Path(url.split("///", 1)[-1])
        return path.with_name(path.name + ".looks")
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "sitewatch" / "looks"


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


def _private_sqlite_file(path: Path) -> None:
    """Create the store's folder and file for their owner only (0700 / 0600) when they are new.

    The store holds what analysts found and said; a world-readable file would show it to
    every user of the machine. An existing folder or file keeps the permissions it has.
    """
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    elif not path.is_file():
        raise InputError(f"{path}: not a regular file; point SITEWATCH_DB at a sitewatch store file")


def make_engine(url: str) -> Engine:
    """An engine for a sqlite:/// or postgresql:// URL (anything else is refused with one line)."""
    shown = mask_url(url)
    if url.startswith("sqlite:///"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            try:
                _private_sqlite_file(Path(path))
            except OSError as exc:
                raise InputError(f"store {shown}: cannot create it ({exc.strerror}); check the folder") from exc
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if not url.startswith(("postgresql://", "postgresql+psycopg://")):
        raise InputError(
            f"store URL '{shown}' is not supported; use sqlite:///PATH/store.db or postgresql://USER@HOST/DATABASE"
        )
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    except Exception as exc:  # a malformed URL (bad port, bad characters)
        raise InputError(f"store URL '{shown}' is malformed ({_short(exc)}); check SITEWATCH_DB") from exc


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
    shown = mask_url(url)  # never print a password
    store = Store(make_engine(url), url)
    try:
        with store.engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
        current = store.revision()
    except DatabaseError as exc:  # unreachable, not a database, unreadable file
        raise InputError(f"database {shown} cannot be reached or read ({_short(exc)}); check SITEWATCH_DB") from exc
    except ValueError as exc:
        raise InputError(f"store URL '{shown}' is malformed ({_short(exc)}); check SITEWATCH_DB") from exc
    head = head_revision()
    if current is None and not (tables - {"alembic_version"}):
        try:
            store.upgrade()  # a new store
        except DatabaseError as exc:  # e.g. a read-only file or folder
            raise InputError(f"database {shown} cannot be written ({_short(exc)}); check its permissions") from exc
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
