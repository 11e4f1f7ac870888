"""Processes: definitions as signed versions (upload or the browser modeler), their diagrams,
starting instances, and the instances with their path, tasks, service calls and controls."""

from flask import Blueprint

bp = Blueprint("processes", __name__, template_folder="templates", static_folder="static",
               url_prefix="/processes")

from web.processes import views  # noqa: E402, F401, I001
from web.processes import messages  # noqa: E402, F401
