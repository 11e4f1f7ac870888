"""Log in and out, second factor, password change and two-factor enrolment."""

from flask import Blueprint

bp = Blueprint("auth", __name__, template_folder="templates", url_prefix="/auth")

from web.auth import views  # noqa: E402, F401
