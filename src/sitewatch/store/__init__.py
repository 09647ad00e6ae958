"""The event store: sites, scenes, runs, events and analyst reviews (SQLAlchemy 2 + Alembic).

SQLite file by default (WAL mode, so readers never block the writer); PostgreSQL when
`SITEWATCH_DB` is a `postgresql://` URL. The schema is created and upgraded only by the
Alembic migrations in `migrations/`, never by `create_all`, so an older store is always
brought forward the same way.
"""

from sitewatch.store.db import open_store
from sitewatch.store.models import Event, Review, Run, Scene, SiteRecord

__all__ = ["Event", "Review", "Run", "Scene", "SiteRecord", "open_store"]
