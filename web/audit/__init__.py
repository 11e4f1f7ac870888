"""The audit trail page: filter, read, export and verify the hash-chained events."""

from flask import Blueprint

bp = Blueprint("audit", __name__, template_folder="templates", url_prefix="/audit")

from web.audit import messages, views  # noqa: E402, F401
