"""The inbox (what a person sees first): open tasks of theirs and their roles, and the task
page where a task's form is filled in, gated, signed and completed."""

from flask import Blueprint

bp = Blueprint("inbox", __name__, template_folder="templates", static_folder="static",
               url_prefix="/inbox")

from web.inbox import views  # noqa: E402, F401, I001
from web.inbox import messages  # noqa: E402, F401
