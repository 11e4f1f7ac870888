"""Recall pages: start a recall, follow every customer's notice, record acknowledgements and
returns, close with a signature, and the recall report as a page and a PDF."""

from flask import Blueprint

bp = Blueprint("recalls", __name__, url_prefix="/recalls", template_folder="templates")

from web.recalls import views  # noqa: E402,F401
