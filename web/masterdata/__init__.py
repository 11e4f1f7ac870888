"""Master data pages: products, parties with their licences (首营 review), sites and locations."""

from flask import Blueprint

bp = Blueprint("masterdata", __name__, template_folder="templates", static_folder="static",
               url_prefix="/masterdata")

from web.masterdata import messages, views  # noqa: E402, F401
