"""User administration: users, roles backed by training, the two-factor policy, API tokens."""

from flask import Blueprint

bp = Blueprint("admin", __name__, template_folder="templates", url_prefix="/admin")

from web.admin import messages, views  # noqa: E402, F401
