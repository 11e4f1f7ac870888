"""Rule packs for compliance officers: versions, diffs, cases, signed activation per site."""

from flask import Blueprint

bp = Blueprint("rules", __name__, template_folder="templates", url_prefix="/rules")

from web.rules import messages, views  # noqa: E402, F401
