"""Fixtures for rule packs in the database: sites, a compliance officer, imported packs, and
pack folders a test may break."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from engine import audit
from engine.db import db
from engine.masterdata import service as md
from engine.rules import store

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "rules"
BPMN = Path(__file__).resolve().parent / "bpmn"
CLI = audit.Actor(None, "cli")

SITES = (("SH", "Shanghai", "CN", "Asia/Shanghai"), ("CHI", "Chicago", "US", "America/Chicago"),
         ("RTM", "Rotterdam", "EU", "Europe/Amsterdam"))


def make_sites() -> None:
    for code, name, region, zone in SITES:
        md.create_site(audit.SYSTEM, code, name, region, zone)
    db.session.commit()


@pytest.fixture
def sites(ctx: Flask) -> None:
    make_sites()


@pytest.fixture
def officer(ctx: Flask, make_user: Any) -> Any:
    return make_user("sarah", "compliance_officer", full_name="Sarah Miller")


@pytest.fixture
def shipped(ctx: Flask) -> dict[str, Any]:
    """The three shipped packs imported (by the CLI actor)."""
    store.import_shipped(CLI)
    db.session.commit()
    return {row.pack_id: row for row in store.versions()}


def copy_pack(name: str, target: Path) -> Path:
    folder = target / name
    shutil.copytree(RULES / name, folder)
    return folder


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


@pytest.fixture
def failing_pack(tmp_path: Path) -> Path:
    """A copy of the NMPA pack, version 2024.7.2, whose first case expects the wrong rule."""
    folder = copy_pack("nmpa", tmp_path)
    edit(folder / "pack.yaml", 'version: "2024.7.2"', 'version: "2024.7.2"')
    edit(folder / "cases.yaml", "expect: []", "expect: [nmpa-gsp53-supplier-docs]")
    return folder
