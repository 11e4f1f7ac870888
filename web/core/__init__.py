"""Home page, health check and language choice."""

from flask import Blueprint

bp = Blueprint("core", __name__, template_folder="templates")

from web.core import views  # noqa: E402, F401
