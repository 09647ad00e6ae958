"""Tables of the store. Geometries are WGS84 WKT text, so SQLite and PostgreSQL hold the same."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from sitewatch.base.vocab import ReviewStatus, values

REVIEW_STATUSES = values(ReviewStatus)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class SiteRecord(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    parent: Mapped[str | None] = mapped_column(Text, nullable=True)
    country: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    geometry_wkt: Mapped[str] = mapped_column(Text)
    alert_rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    monitor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # imagery options for `watchlist run`
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # set by `watchlist remove`: the site and its history stay until `remove --purge` (`watchlist restore`)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Scene(Base):
    __tablename__ = "scenes"
    __table_args__ = (UniqueConstraint("scene_key", name="uq_scenes_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scene_key: Mapped[str] = mapped_column(String(500))  # source + scene id: one row per real scene
    sensor: Mapped[str | None] = mapped_column(String(100), nullable=True)
    acquired_at: Mapped[str | None] = mapped_column(String(40), nullable=True)  # ISO 8601 UTC
    cloud_cover: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(Text)  # URL or path
    checksum: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("site_id", "input_key", name="uq_runs_site_input"),)  # idempotence

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    input_key: Mapped[str] = mapped_column(String(64), index=True)  # SHA-256 of inputs + parameters
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    software_version: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="done")  # a run row exists only once complete
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RunScene(Base):
    __tablename__ = "run_scenes"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    scene_id: Mapped[int] = mapped_column(ForeignKey("scenes.id", ondelete="CASCADE"), primary_key=True)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    first_run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    last_run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    geometry_wkt: Mapped[str] = mapped_column(Text)
    area_m2: Mapped[float] = mapped_column(Float)  # the whole region, margin included
    # the part inside the site polygon: what summaries, rules and alerts count (None: stored before it was)
    area_inside_m2: Mapped[float | None] = mapped_column(Float, nullable=True)
    score: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(50))
    before_date: Mapped[str | None] = mapped_column(String(40), nullable=True)
    after_date: Mapped[str | None] = mapped_column(String(40), nullable=True)
    confirmations: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sightings: Mapped[int] = mapped_column(Integer, default=1)
    suppressed_by: Mapped[int | None] = mapped_column(ForeignKey("events.id"), nullable=True)
    # the spectral indices before and after behind `kind` (None: stored before it was kept)
    evidence: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    # series: "earlier" / "later" for a break before / after the main one at its place (None: the main one)
    phase: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # the earlier event at the same place this one came after: a phase of the same run, or an event of an earlier run
    follows_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    reviews: Mapped[list[Review]] = relationship(order_by="Review.id", cascade="all, delete-orphan")

    @property
    def status(self) -> str:
        return self.reviews[-1].status if self.reviews else "new"

    @property
    def inside_m2(self) -> float:
        """Area inside the site polygon (the whole area for events stored before it was measured)."""
        return self.area_m2 if self.area_inside_m2 is None else self.area_inside_m2


class Sighting(Base):
    """An event seen again in a later run: linked, not copied."""

    __tablename__ = "sightings"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    area_m2: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)


class Review(Base):
    """An analyst's verdict; appended, never updated, so the full history stays."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    analyst: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    # why it was dismissed, from `sitewatch.base.vocab.DismissReason` (None for other verdicts and older reviews)
    reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Alert(Base):
    """An event that passed its site's rules, to be delivered to one target; delivered once."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("event_id", "target", name="uq_alerts_event_target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    target: Mapped[str] = mapped_column(String(500))  # webhook URL or mailto:address
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | delivered
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # when a delivery took it (sitewatch.alerts.delivery): no lock is held while it is sent
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Delivery(Base):
    """One attempt to deliver an alert, kept whatever its outcome."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text, default="")


class User(Base):
    """A workbench account; the password is kept only as an argon2 hash."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))  # sitewatch.base.vocab.Role
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebSession(Base):
    """A signed-in browser. Only a SHA-256 of the cookie's token is kept, so a copy of the store signs nobody in."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Who changed what: every review, rule change and account change, from the web or the CLI."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))  # "web:<user>" or "cli:<login name>"
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
