"""How a recall notice reaches a customer: e-mail (SMTP, or files in the instance outbox when no
SMTP server is configured) and a webhook (an HTTPS POST of JSON signed with HMAC-SHA256)."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-GxPFlow-Signature"


@dataclass(frozen=True)
class Sent:
    ok: bool
    detail: str


def notice_text(notice: dict[str, Any]) -> str:
    lines = [
        f"RECALL {notice['number']} / 召回通知 {notice['number']}",
        f"Level / 级别: {notice['level']}",
        f"Product / 产品: {notice['product']} ({notice['gtin']})",
        f"Reason / 原因: {notice['reason']}",
        "",
        "Units you received / 贵方收到的产品:",
    ]
    lines += [f"  lot {line['lot']} {('serial ' + line['serial']) if line['serial'] else ''}"
              f" qty {line['quantity']} (delivery {line.get('document', '')})"
              for line in notice["lines"]]
    lines += ["", "Stop using and distributing these units, quarantine them and confirm receipt "
              "of this notice. / 请立即停止使用和销售上述产品，隔离存放并确认收到本通知。"]
    return "\n".join(lines)


def send_email(to: str, notice: dict[str, Any], *, smtp_url: str, sender: str,
               outbox: Path) -> Sent:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = f"Recall {notice['number']} / 召回通知: {notice['product']}"
    message["X-GxPFlow-Recall"] = notice["number"]
    message.set_content(notice_text(notice))
    if not smtp_url:
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"{notice['number']}-{notice['consignee_id']}.eml"
        path.write_bytes(bytes(message))
        return Sent(True, f"written to {path}")
    parts = urlsplit(smtp_url)
    try:
        smtp_class = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        with smtp_class(parts.hostname or "localhost", parts.port or 25, timeout=20) as smtp:
            if parts.scheme == "smtp+starttls":
                smtp.starttls()
            if parts.username:
                smtp.login(parts.username, parts.password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        return Sent(False, f"SMTP: {exc}")
    return Sent(True, f"accepted by {parts.hostname}")


def sign_body(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(url: str, notice: dict[str, Any], *, secret: str, timeout: float = 10) -> Sent:
    if urlsplit(url).scheme not in ("http", "https"):
        return Sent(False, f"Not an http(s) URL: {url!r}")
    body = json.dumps({"event": "recall.notice", **notice}, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: sign_body(body, secret),
        "Idempotency-Key": f"{notice['number']}-{notice['consignee_id']}",
    }
    # The scheme is checked above: only http(s) is opened.
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Sent(True, f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        return Sent(False, f"HTTP {exc.code}")
    except (OSError, ValueError) as exc:
        return Sent(False, f"{type(exc).__name__}: {exc}")
