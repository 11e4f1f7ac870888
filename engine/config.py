"""Every setting GxPFlow reads, with its type and default, checked once at start-up.

Settings come from `GXPFLOW_*` environment variables (or an explicit mapping in tests);
a missing or malformed value raises `ConfigError` with one line naming the variable.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from engine.errors import ConfigError
from engine.netguard import allow_list

ENV_PREFIX = "GXPFLOW_"
MODES = ("development", "production", "testing")
LOCALES = ("en", "zh")
SECRET_SETTINGS = frozenset({"secret_key"})
URL_SETTINGS = frozenset({"database_url", "broker_url", "result_backend", "smtp_url"})


@dataclass(frozen=True)
class Settings:
    """The effective configuration. Field docs are shown by `gxpflow check`."""

    mode: str = "development"
    "development, production or testing; production refuses unsafe defaults."
    database_url: str = ""
    "SQLAlchemy URL; empty means an SQLite file in the instance folder."
    broker_url: str = ""
    "Celery broker (redis://...); empty means tasks run eagerly in the calling process."
    result_backend: str = ""
    "Celery result backend; empty means the broker URL (or none when eager)."
    celery_queue: str = "gxpflow"
    "Name of the Celery queue the web app sends to and workers consume."
    secret_key: str = ""
    "Signs sessions and CSRF tokens; required in production."
    default_locale: str = "en"
    "Language of the UI when the user has not chosen one: en or zh."
    default_timezone: str = "UTC"
    "IANA time zone used to show times to users who have none set."
    session_idle_minutes: int = 30
    "Idle minutes after which a session must log in again."
    page_size: int = 25
    "Rows per page in lists."
    password_max_age_days: int = 90
    "Days after which a password must be changed."
    lockout_attempts: int = 5
    "Failed log-ins in a row that lock an account."
    log_level: str = "INFO"
    "Python logging level name."
    smtp_url: str = ""
    ("SMTP server for recall notices (smtp://user:pass@host:25, smtps://, smtp+starttls://); "
     "empty writes them as .eml files to the instance outbox folder.")
    mail_from: str = "gxpflow@localhost"
    "Sender address of recall notices."
    webhook_allowed_hosts: str = ""
    ("Host names, IP addresses or networks (CIDR), comma-separated, that recall and tracking "
     "webhooks may reach although they are internal (private, loopback, link-local); "
     "empty: webhooks go to public addresses only.")
    pdf_font: str = ""
    ("A TrueType font file (.ttf or .ttc) with Chinese glyphs, embedded in PDFs (delivery notes, "
     "recall reports); empty: the first installed of Debian's fonts-wqy-zenhei, "
     "fonts-wqy-microhei, fonts-arphic-uming, else the PDF names the CID font STSong-Light, "
     "which the reader supplies.")
    workers: int = 2
    "gunicorn worker processes for `gxpflow serve` in production."
    instance_path: str = ""
    "Folder for the SQLite file and local state; set by the app factory."
    extra: Mapping[str, Any] = field(default_factory=dict)
    "Flask settings passed through unchanged (tests only)."

    @property
    def eager(self) -> bool:
        """Celery runs tasks inline when no broker is configured."""
        return not self.broker_url

    @property
    def production(self) -> bool:
        return self.mode == "production"

    def masked(self) -> dict[str, str]:
        """The settings as text, with secrets and URL passwords hidden."""
        shown: dict[str, str] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name in SECRET_SETTINGS:
                shown[f.name] = "********" if value else "(not set)"
            elif f.name in URL_SETTINGS and value:
                shown[f.name] = mask_url(value)
            else:
                shown[f.name] = str(value)
        return shown


def mask_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable)"


def load_settings(
    environ: Mapping[str, str], instance_path: Path, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build settings from `GXPFLOW_*` variables, then `overrides`, then check them."""
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name in ("extra", "instance_path"):
            continue
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is not None:
            values[f.name] = _coerce(f, raw)
    for name, value in (overrides or {}).items():
        values[name] = value
    values["instance_path"] = str(instance_path)
    settings = Settings(**values)
    return _checked(settings, instance_path)


def _coerce(f: dataclasses.Field[Any], raw: str) -> Any:
    var = ENV_PREFIX + f.name.upper()
    if f.type in ("int", int):
        try:
            number = int(raw)
        except ValueError:
            raise ConfigError(f"{var}={raw!r} is not a whole number") from None
        if number <= 0:
            raise ConfigError(f"{var}={raw!r} must be greater than zero")
        return number
    return raw.strip()


def _checked(s: Settings, instance_path: Path) -> Settings:
    if s.mode not in MODES:
        raise ConfigError(f"GXPFLOW_MODE={s.mode!r} must be one of {', '.join(MODES)}")
    if s.default_locale not in LOCALES:
        raise ConfigError(
            f"GXPFLOW_DEFAULT_LOCALE={s.default_locale!r} must be one of {', '.join(LOCALES)}"
        )
    try:
        ZoneInfo(s.default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"GXPFLOW_DEFAULT_TIMEZONE={s.default_timezone!r} is not an IANA time zone "
            "(for example Asia/Shanghai)"
        ) from None
    if s.pdf_font and not Path(s.pdf_font).is_file():
        raise ConfigError(f"GXPFLOW_PDF_FONT={s.pdf_font!r} is not a font file")
    try:
        allow_list(s.webhook_allowed_hosts)
    except ValueError as bad:
        raise ConfigError(
            f"GXPFLOW_WEBHOOK_ALLOWED_HOSTS: {str(bad)!r} is not a host name, IP address or "
            "network (for example hooks.internal, 10.20.0.0/16)"
        ) from None
    changes: dict[str, Any] = {}
    database_url = s.database_url or f"sqlite:///{instance_path / 'gxpflow.db'}"
    changes["database_url"] = normalise_database_url(database_url)
    if s.broker_url:
        scheme = s.broker_url.split("://", 1)[0]
        if "://" not in s.broker_url or scheme not in ("redis", "rediss", "amqp", "pyamqp"):
            raise ConfigError(
                f"GXPFLOW_BROKER_URL={mask_url(s.broker_url)!r} must be a redis:// or amqp:// URL"
            )
    if not s.secret_key:
        if s.production:
            raise ConfigError(
                "GXPFLOW_SECRET_KEY is not set: production needs a long random secret "
                "(python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        changes["secret_key"] = _development_secret(instance_path)
    elif s.production and len(s.secret_key) < 32:
        raise ConfigError("GXPFLOW_SECRET_KEY must be at least 32 characters in production")
    return dataclasses.replace(s, **changes)


def normalise_database_url(url: str) -> str:
    """Check the URL and pick our PostgreSQL driver (psycopg 3) when none is named."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"GXPFLOW_DATABASE_URL={url!r} is not a database URL "
            "(for example postgresql://user@127.0.0.1:5432/gxpflow)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        if not parsed.database:
            raise ConfigError("GXPFLOW_DATABASE_URL names no database (add /DBNAME to the URL)")
    elif backend != "sqlite":
        raise ConfigError(
            f"GXPFLOW_DATABASE_URL uses {backend!r}; GxPFlow supports sqlite and postgresql"
        )
    return parsed.render_as_string(hide_password=False)


def _development_secret(instance_path: Path) -> str:
    """A random key kept in the instance folder, so development sessions survive restarts."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key
