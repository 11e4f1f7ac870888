"""Settings: defaults, GXPFLOW_* overrides, and one clear line for each bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import load_settings
from engine.errors import ConfigError


def test_defaults_are_embedded(tmp_path: Path) -> None:
    settings = load_settings({}, tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'gxpflow.db'}"
    assert settings.eager
    assert settings.mode == "development"
    assert len(settings.secret_key) == 64
    assert load_settings({}, tmp_path).secret_key == settings.secret_key, "kept across restarts"


def test_environment_overrides(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "GXPFLOW_DATABASE_URL": "postgresql://gx:pw@db.example:5432/gxpflow",
            "GXPFLOW_BROKER_URL": "redis://127.0.0.1:6379/0",
            "GXPFLOW_PAGE_SIZE": "50",
            "GXPFLOW_DEFAULT_TIMEZONE": "Asia/Shanghai",
        },
        tmp_path,
    )
    assert settings.database_url == "postgresql+psycopg://gx:pw@db.example:5432/gxpflow"
    assert not settings.eager
    assert settings.page_size == 50
    masked = settings.masked()
    assert "pw" not in masked["database_url"]
    assert masked["secret_key"] == "********"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"GXPFLOW_PAGE_SIZE": "many"}, "GXPFLOW_PAGE_SIZE='many' is not a whole number"),
        ({"GXPFLOW_PAGE_SIZE": "0"}, "must be greater than zero"),
        ({"GXPFLOW_MODE": "staging"}, "GXPFLOW_MODE='staging' must be one of"),
        ({"GXPFLOW_DATABASE_URL": "not a url"}, "is not a database URL"),
        ({"GXPFLOW_DATABASE_URL": "mysql://h/db"}, "supports sqlite and postgresql"),
        ({"GXPFLOW_DATABASE_URL": "postgresql://h:5432"}, "names no database"),
        ({"GXPFLOW_BROKER_URL": "http://h"}, "must be a redis:// or amqp:// URL"),
        ({"GXPFLOW_DEFAULT_TIMEZONE": "Mars/Base"}, "is not an IANA time zone"),
        ({"GXPFLOW_DEFAULT_LOCALE": "fr"}, "GXPFLOW_DEFAULT_LOCALE='fr'"),
        ({"GXPFLOW_PDF_FONT": "/nowhere/font.ttc"}, "is not a font file"),
        ({"GXPFLOW_MODE": "production"}, "GXPFLOW_SECRET_KEY is not set"),
        ({"GXPFLOW_MODE": "production", "GXPFLOW_SECRET_KEY": "short"}, "at least 32"),
    ],
)
def test_bad_settings_stop_with_one_line(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ, tmp_path)
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_production_never_invents_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_settings({"GXPFLOW_MODE": "production"}, tmp_path)
    assert not (tmp_path / "secret_key").exists()
