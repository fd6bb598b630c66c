"""Start-up with a broken catalog file: one clear message, no traceback, nothing half loaded."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from sqlalchemy import select

from erma.catalog.models import ServiceItem

ROOT = Path(__file__).resolve().parents[2]


def test_broken_catalog_stops_loading_with_one_message(tmp_path, db, migrated):
    data = yaml.safe_load((ROOT / "catalog" / "services.yaml").read_text(encoding="utf-8"))
    data["items"][11]["materials"][0]["count"] = 0
    data["items"][0]["name"] = "改了名字但不应写入"
    broken = tmp_path / "services.yaml"
    broken.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "DATABASE_URL": migrated, "CATALOG_PATH": str(broken), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "erma", "load"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    message = r.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert "MX-012" in message and "count" in message
    with db() as s:
        assert s.scalar(select(ServiceItem.name).where(ServiceItem.code == "MX-001")) != "改了名字但不应写入"
