"""Delivery notes (随货同行单) of shipped outbound processes: a printable page and a PDF."""

from flask import Blueprint

bp = Blueprint("delivery", __name__, url_prefix="/delivery-notes", template_folder="templates")

from web.delivery import views  # noqa: E402,F401
