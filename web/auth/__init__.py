"""Log in and out, second factor, password change, two-factor enrolment and preferences."""

from flask import Blueprint

bp = Blueprint("auth", __name__, template_folder="templates", url_prefix="/auth")

from web.auth import messages, views  # noqa: E402, F401
