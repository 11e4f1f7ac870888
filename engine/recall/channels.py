"""How a recall notice reaches a customer, and a device tracking report its manufacturer: e-mail
(SMTP, or files in the instance outbox when no SMTP server is configured) and a webhook (an
HTTPS POST of JSON signed with HMAC-SHA256, to a public address only: engine.netguard)."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from engine import netguard

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
    lines += [f"  lot {line['lot']}{(' serial ' + line['serial']) if line['serial'] else ''}"
              f" qty {line['quantity']} (delivery notes / 随货同行单: "
              f"{line.get('document') or '-'})"
              for line in notice["lines"]]
    lines += ["", "Stop using and distributing these units, quarantine them and confirm receipt "
              "of this notice. / 请立即停止使用和销售上述产品，隔离存放并确认收到本通知。"]
    return "\n".join(lines)


def send_email(to: str, notice: dict[str, Any], *, smtp_url: str, sender: str,
               outbox: Path) -> Sent:
    return _send_message(
        to, f"Recall {notice['number']} / 召回通知: {notice['product']}",
        ("X-GxPFlow-Recall", notice["number"]), notice_text(notice),
        f"{notice['number']}-{notice['consignee_id']}.eml",
        smtp_url=smtp_url, sender=sender, outbox=outbox)


def _send_message(to: str, subject: str, reference: tuple[str, str], text: str, filename: str,
                  *, smtp_url: str, sender: str, outbox: Path) -> Sent:
    """Hand the message to the SMTP server, or write it to the outbox when there is none.
    `reference`: the header naming what the message is about (recall, tracking report)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message[reference[0]] = reference[1]
    message.set_content(text)
    if not smtp_url:
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / filename
        path.write_bytes(bytes(message))
        # The file's name only: a page must not show the server's folders.
        return Sent(True, f"saved to the outbox (no mail server set): {filename}")
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


def send_webhook(url: str, notice: dict[str, Any], *, secret: str, allowed_hosts: str = "",
                 timeout: float = 10) -> Sent:
    return _post(url, {"event": "recall.notice", **notice},
                 f"{notice['number']}-{notice['consignee_id']}", secret=secret,
                 allowed_hosts=allowed_hosts, timeout=timeout)


def _post(url: str, payload: dict[str, Any], idempotency_key: str, *, secret: str,
          allowed_hosts: str, timeout: float) -> Sent:
    """POST the payload as JSON signed with HMAC-SHA256 of the body, if the address is still a
    public one (checked again here: its DNS answer may have changed since it was saved), to the
    address checked. A redirect is answered as the failure it is: following it could lead to
    an internal address the guard never saw."""
    try:
        addresses = netguard.check_webhook(url, allowed_hosts)
    except netguard.WebhookRefused as refused:
        return Sent(False, refused.message)
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "GxPFlow",
        SIGNATURE_HEADER: sign_body(body, secret),
        "Idempotency-Key": idempotency_key,
    }
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection = netguard.connection(url, addresses, timeout)
        try:
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            status, location = response.status, response.getheader("Location", "?")
        finally:
            connection.close()
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return Sent(False, f"{type(exc).__name__}: {exc}")
    if 200 <= status < 300:
        return Sent(True, f"HTTP {status}")
    if 300 <= status < 400:
        return Sent(False, f"HTTP {status}: the webhook redirects to {location}; redirects are "
                           "not followed, give the final address")
    return Sent(False, f"HTTP {status}")


# -- device tracking reports (21 CFR 821) -------------------------------------------------------

TRACKING_EVENTS = {"received": ("Received from", "收货来源"),
                   "shipped": ("Provided to", "发往")}


def tracking_subject(report: dict[str, Any]) -> str:
    return (f"Device tracking report {report['reference']} / 器械追踪报告: "
            f"{report['product_code']} lot {report['lot']}")


def tracking_text(report: dict[str, Any]) -> str:
    """A tracking report (engine.tracking.service.report) as the manufacturer reads it."""
    party = report["party"]
    en, zh = TRACKING_EVENTS[report["activity"]]
    serials = ", ".join(report["serials"]) or "-"
    lines = [
        f"DEVICE TRACKING REPORT {report['reference']} / 器械追踪报告 {report['reference']} "
        "(21 CFR 821)",
        f"Product / 产品: {report['product']} (GTIN {report['gtin'] or '-'})",
        f"Lot / 批号: {report['lot']}",
        f"Serial numbers / 序列号: {serials}",
        f"Quantity / 数量: {report['quantity']}",
        f"Date / 日期: {report['date']} (site / 库区 {report['site']}, document / 单据 "
        f"{report['document'] or '-'})",
        f"{en} / {zh}: {party['code']} {party['name']}"
        + (f" ({party['name_en']})" if party.get("name_en") else "")
        + (f", {party['address']}" if party.get("address") else ""),
    ]
    if report.get("patient_data"):
        lines.append(f"Patient data / 患者追踪数据: {report['patient_data']}")
    lines += ["", "Sent under 21 CFR Part 821 (medical device tracking). / "
              "依据美国 21 CFR 821（医疗器械追踪）发送。"]
    return "\n".join(lines)


def send_tracking_email(to: str, report: dict[str, Any], *, smtp_url: str, sender: str,
                        outbox: Path) -> Sent:
    return _send_message(to, tracking_subject(report), ("X-GxPFlow-Tracking", report["reference"]),
                         tracking_text(report), f"{report['reference']}.eml",
                         smtp_url=smtp_url, sender=sender, outbox=outbox)


def send_tracking_webhook(url: str, report: dict[str, Any], *, secret: str,
                          allowed_hosts: str = "", timeout: float = 10) -> Sent:
    return _post(url, {"event": "tracking.report", **report}, report["reference"],
                 secret=secret, allowed_hosts=allowed_hosts, timeout=timeout)
