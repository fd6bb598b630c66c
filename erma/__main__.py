"""Command line: `python -m erma migrate|load|serve|worker|setup|dashboard-rebuild|purge-trackers`."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn
from alembic import command
from alembic.config import Config

from erma import log_redaction
from erma.admin.audit import admin_owned_keys
from erma.catalog.loader import CatalogError, load_catalog
from erma.catalog.service import sync_catalog
from erma.conversations.trackers import describe_url, purge_trackers, retention_days, tracker_store_url
from erma.county_data import CountyDataError, load_places
from erma.dashboard.summary import mark_all, refresh
from erma.db import get_sessionmaker
from erma.outbox.worker import run_forever
from erma.settings import ROOT, get_settings
from erma.staff.seed import load_staff
from erma.understanding.service import warm_up
from erma.wiring import wire
from erma.unit_of_work import unit_of_work


def migrate() -> None:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", get_settings().database_url)
    command.upgrade(cfg, "head")


def load() -> None:
    """Validate and load the catalog, places and staff; stop with one clear message if broken."""
    settings = get_settings()
    try:
        items = load_catalog(settings.catalog_path)
        with unit_of_work() as session:
            # What a county admin changed in the database stays as the admin left it.
            load_places(session, settings.places_path, frozenset(admin_owned_keys(session, "town_alias")))
            load_staff(session, settings.staff_path, frozenset(admin_owned_keys(session, "staff")))
            sync_catalog(session, items, frozenset(admin_owned_keys(session, "service_item")))
    except (CatalogError, CountyDataError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"已载入事项目录 {len(items)} 项（容缺 {sum(1 for i in items if i.rongque_listed)} 项）、镇村与人员数据")


def prepare_understanding() -> None:
    """Trains the item and behaviour models once (seconds) and keeps them under var/, so the first
    resident after a start does not wait for them."""
    print("正在准备理解居民留言的模型……", flush=True)
    with unit_of_work() as session:
        warm_up(session)
    print("理解模型已就绪")


def dashboard_rebuild() -> None:
    """Recompute the dashboard's daily summary from every case (after SQL that bypassed the platform)."""
    with unit_of_work() as session:
        days = mark_all(session)
    print(f"正在重算统计看板的每日汇总：{days} 天……", flush=True)
    with unit_of_work() as session:
        refresh(session)
    print("统计看板每日汇总已重算完毕")


def purge_trackers_command(db: str | None, days: int | None) -> None:
    url = tracker_store_url(Path(db) if db else None)
    if url is None:
        print("没有找到 Rasa 的对话记录库，无需清理")
        return
    days = days or retention_days()
    print(f"已删除 {purge_trackers(days=days, url=url)} 条超过 {days} 天的 Rasa 对话事件（{describe_url(url)}）")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="erma")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("load", help="load catalog, places and staff")
    sub.add_parser("setup", help="migrate + load")
    serve = sub.add_parser("serve", help="run the platform")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1,
                       help="web processes on this port (`make run` starts 2: ERMA_WEB_WORKERS)")
    worker = sub.add_parser("worker", help="run the outbox worker")
    worker.add_argument("--interval", type=float, default=5.0, help="seconds between polls when idle")
    sub.add_parser("dashboard-rebuild", help="recompute the dashboard's daily summary from every case")
    purge = sub.add_parser("purge-trackers", help="delete Rasa tracker events older than the retention period")
    purge.add_argument("--days", type=int, default=None, help="retention in days (default ERMA_TRACKER_RETENTION_DAYS or 30)")
    purge.add_argument("--db", default=None, help="the tracker SQLite file (default ERMA_TRACKER_URL, else ERMA_TRACKER_DB or endpoints.yml)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Before any command touches the database: the listeners of the domain's events and the dashboard's
    # stale-day watcher (`serve` wires again in create_app, in the server's own import of the app).
    wire()

    if args.cmd in ("migrate", "setup"):
        migrate()
    if args.cmd in ("load", "setup"):
        load()
    if args.cmd == "setup":
        prepare_understanding()
    if args.cmd == "dashboard-rebuild":
        dashboard_rebuild()
    if args.cmd == "purge-trackers":
        purge_trackers_command(args.db, args.days)
    if args.cmd == "serve":
        # Only the configured proxies may say the request was https or name the client's address.
        # Several workers share nothing but the database: every limit, throttle and cache that must hold
        # across them is in the database or checks its version there (README, "Several web processes").
        uvicorn.run("erma.app:create_app", factory=True, host=args.host, port=args.port, proxy_headers=True,
                    forwarded_allow_ips=get_settings().erma_trusted_proxies, workers=max(1, args.workers))
    if args.cmd == "worker":
        log_redaction.install()
        run_forever(get_sessionmaker(), interval=args.interval)


if __name__ == "__main__":
    main()
