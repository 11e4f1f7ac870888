"""Device tracking pages (21 CFR 821): every tracking report to a manufacturer with its state
and delivery attempts, and "send again" for the failed ones."""

from flask import Blueprint

bp = Blueprint("tracking", __name__, url_prefix="/tracking", template_folder="templates")

from web.tracking import messages, views  # noqa: E402, F401
