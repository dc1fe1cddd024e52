"""Helpers shared by the adoption tests (imported explicitly; not a conftest, to stay out of others' way)."""

from __future__ import annotations

from pathlib import Path

import yaml

from adoptkit import settings

ROI = {
    "organisation": {"name": "Test Org", "hourly_cost": 50, "currency": "EUR"},
    "roi": {"programme_costs": {"licences": 10000, "facilitation": 15000},
            "tasks_per_week": {"marketing": 8, "sales": 10, "hr": 6, "engineering": 12}},
}


def config(tmp_path: Path, section: dict | None = None) -> settings.Settings:
    """Write a _config.yml with this `adoptkit:` section into tmp_path and load it."""
    path = tmp_path / "_config.yml"
    path.write_text(yaml.safe_dump({"title": "test", "adoptkit": section or {}}), encoding="utf-8")
    return settings.load(path)
