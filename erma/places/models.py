"""Towns (with old township aliases), villages and intake points."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base
from erma.kept_rows import keep_loaded


class Town(Base):
    __tablename__ = "towns"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    county_seat: Mapped[bool] = mapped_column(default=False)


class TownAlias(Base):
    """An old pre-reform township name (or other wording) that means a current town."""

    __tablename__ = "town_aliases"

    alias: Mapped[str] = mapped_column(String(32), primary_key=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"))
    confirmed: Mapped[bool] = mapped_column(default=False)


class Village(Base):
    __tablename__ = "villages"
    __table_args__ = (UniqueConstraint("town_code", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"), index=True)
    name: Mapped[str] = mapped_column(String(32), index=True)


class IntakePoint(Base):
    __tablename__ = "intake_points"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # county_window | town_centre | village_point | online
    name: Mapped[str] = mapped_column(String(64))
    town_code: Mapped[str | None] = mapped_column(ForeignKey("towns.code"), nullable=True)
    window_for: Mapped[str | None] = mapped_column(ForeignKey("towns.code"), nullable=True)


# Read by key many times in one request (a case's town and intake point): kept once loaded.
keep_loaded(Town)
keep_loaded(IntakePoint)
