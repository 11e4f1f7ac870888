"""Ledger pages: stock, movements, the lot page with its trace, the expiry board, stock counts,
temperature imports and the GS1 scan box."""

from flask import Blueprint

bp = Blueprint("ledger", __name__, template_folder="templates", url_prefix="/ledger")

from web.ledger import messages, views  # noqa: E402, F401
