"""Views of the master-data pages. Every change goes through `engine.masterdata.service`, which
checks the permission again, validates, audits (a change needs a reason) and flushes; the view
commits or, when the engine refuses, rolls back and shows why next to the field."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import Select, select
from werkzeug.wrappers import Response

from engine.db import db, utcnow
from engine.errors import GxpError, NotAuthenticated
from engine.masterdata import service as md
from engine.masterdata.models import (
    DEVICE_CLASSES,
    REGIONS,
    ZONES,
    Licence,
    Location,
    Party,
    Product,
    Site,
)
from web.i18n import refusal
from web.i18n import translate as _
from web.masterdata import bp
from web.masterdata.forms import (
    LICENCE_TYPE_LABELS,
    ZONE_LABELS,
    ActiveForm,
    LicenceForm,
    LocationForm,
    PartyForm,
    ProductForm,
    ReviewForm,
    SiteForm,
    options,
)
from web.masterdata.lists import like
from web.paging import paginate
from web.security import requires, user
from web.signing import first_in_session, remember_signature

Page = str | tuple[str, int] | Response
#: Form groups of each record's form: (legend, field names).
Groups = Sequence[tuple[str, Sequence[str]]]

PRODUCT_GROUPS: Groups = (
    ("Identification", ("code", "name_zh", "name_en", "model", "specification", "gtin",
                        "udi_di")),
    ("Registration", ("registration_no", "registration_expiry", "device_class",
                      "manufacturer_id")),
    ("Handling", ("implantable", "serialised", "cold_chain", "storage_temp_min",
                  "storage_temp_max", "near_expiry_days", "fda_tracked")),
)
PARTY_GROUPS: Groups = (
    ("Identification", ("code", "name", "name_en", "country")),
    ("Roles", ("is_supplier", "is_manufacturer", "is_customer", "user_facility")),
    ("Contact", ("address", "contact", "notify_email", "notify_webhook")),
)
LICENCE_GROUPS: Groups = (
    ("Licence", ("type", "number", "issuer", "issued_on", "expires_on")),
    ("Scope", ("class_i", "class_ii", "class_iii", "scope_text")),
)
SITE_GROUPS: Groups = (("Site", ("code", "name", "region", "timezone", "address")),)
LOCATION_GROUPS: Groups = (
    ("Location", ("site_id", "code", "name", "zone", "temp_min", "temp_max")),
)
TIMEZONES = ("Asia/Shanghai", "Asia/Hong_Kong", "America/Chicago", "America/New_York",
             "America/Los_Angeles", "Europe/Amsterdam", "Europe/Berlin", "Europe/Paris",
             "Europe/Dublin", "UTC")
RECORDS: dict[str, type[Product | Party | Site | Location | Licence]] = {
    "products": Product, "parties": Party, "sites": Site, "locations": Location,
    "licences": Licence,
}


@bp.context_processor
def _helpers() -> dict[str, Any]:
    today = utcnow().date()
    return {
        "validity": lambda expires, issued=None: md.validity(expires, today,
                                                             issued_on=issued),
        "licence_state": lambda party: md.licence_flag(party, today),
        "registration_state": lambda product: md.registration_flag(product, today),
        "licence_type_label": lambda t: LICENCE_TYPE_LABELS.get(t, t),
        "zone_label": lambda z: ZONE_LABELS.get(z, z),
    }


def _active_filter(query: Select[Any], model: Any) -> Select[Any]:
    state = request.args.get("state", "active")
    if state == "active":
        return query.where(model.active.is_(True))
    if state == "retired":
        return query.where(model.active.is_(False))
    return query


def _get(model: type[Any], record_id: int) -> Any:
    record = db.session.get(model, record_id)
    if record is None:
        abort(404)
    return record


def _save(form: FlaskForm, act: Callable[[], Any], done: str) -> tuple[Any, dict[str, str]]:
    """Run an engine act for a submitted form: commit and flash, or roll back and return the
    engine's reasons by field (shown next to the fields)."""
    try:
        record = act()
    except GxpError as refused:
        db.session.rollback()
        flash(refusal(refused), "error")
        problems = {str(k): v if isinstance(v, str) else str(v)
                    for k, v in refused.fields.items()}  # a Bilingual stays one
        return None, problems
    db.session.commit()
    flash(done, "info")
    return record, {}


def _form_page(form: FlaskForm, groups: Groups, title: str, errors: dict[str, str],
               cancel: str, *, editing: bool, status: int = 200) -> tuple[str, int]:
    status = 422 if errors else status
    return render_template("masterdata/form.html", form=form, groups=groups, title=title,
                           errors=errors, cancel=cancel, editing=editing,
                           timezones=TIMEZONES), status


@bp.get("/")
@requires("masterdata.view")
def index() -> Response:
    return redirect(url_for("masterdata.products"))


# -- products ------------------------------------------------------------------------------

def _manufacturer_choices(form: ProductForm) -> None:
    makers = db.session.scalars(select(Party).where(Party.is_manufacturer.is_(True),
                                                    Party.active.is_(True))
                                .order_by(Party.code))
    form.manufacturer_id.choices = options([("", "—")] + [(str(p.id), f"{p.code} {p.name}")
                                                          for p in makers])


def _product_values(form: ProductForm) -> dict[str, Any]:
    maker = form.manufacturer_id.data
    return {
        "name_zh": form.name_zh.data, "name_en": form.name_en.data, "model": form.model.data,
        "specification": form.specification.data, "gtin": form.gtin.data,
        "udi_di": form.udi_di.data, "registration_no": form.registration_no.data,
        "registration_expiry": form.registration_expiry.data,
        "device_class": form.device_class.data, "implantable": form.implantable.data,
        "storage_temp_min": form.storage_temp_min.data,
        "storage_temp_max": form.storage_temp_max.data, "cold_chain": form.cold_chain.data,
        "near_expiry_days": (180 if form.near_expiry_days.data is None
                             else form.near_expiry_days.data),
        "serialised": form.serialised.data, "fda_tracked": form.fda_tracked.data,
        "manufacturer_id": int(maker) if maker and maker.isdigit() else None,
    }


@bp.get("/products")
@requires("masterdata.view")
def products() -> str:
    query = select(Product)
    q = request.args.get("q", "").strip()
    if q:
        query = query.where(like([Product.code, Product.name_zh, Product.name_en,
                                  Product.model, Product.gtin, Product.registration_no], q))
    query = _active_filter(query, Product)
    device_class = request.args.get("class", "")
    if device_class in DEVICE_CLASSES:
        query = query.where(Product.device_class == device_class)
    page = paginate(query, {"code": Product.code, "name": Product.name_en,
                            "class": Product.device_class,
                            "registration_expiry": Product.registration_expiry,
                            "created": Product.created_at}, "code", "asc")
    return render_template("masterdata/products.html", page=page, q=q,
                           classes=DEVICE_CLASSES)


@bp.route("/products/new", methods=["GET", "POST"])
@requires("masterdata.edit")
def new_product() -> Page:
    form = ProductForm()
    _manufacturer_choices(form)
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        product, errors = _save(
            form, lambda: md.create_product(user(), form.code.data or "",
                                            **_product_values(form)),
            _("The product was created."))
        if product is not None:
            return redirect(url_for("masterdata.product", product_id=product.id))
    return _form_page(form, PRODUCT_GROUPS, _("New product"), errors,
                      url_for("masterdata.products"), editing=False,
                      status=422 if form.errors else 200)


@bp.get("/products/<int:product_id>")
@requires("masterdata.view")
def product(product_id: int) -> str:
    record = _get(Product, product_id)
    return render_template("masterdata/product.html", product=record,
                           review=ReviewForm(), first_signature=first_in_session())


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
@requires("masterdata.edit")
def edit_product(product_id: int) -> Page:
    record: Product = _get(Product, product_id)
    form = ProductForm(obj=record)
    if request.method == "GET":
        form.manufacturer_id.data = str(record.manufacturer_id or "")
    _manufacturer_choices(form)
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        saved, errors = _save(
            form, lambda: md.update_product(user(), record, form.reason.data or "",
                                            **_product_values(form)),
            _("The product was changed."))
        if saved is not None:
            return redirect(url_for("masterdata.product", product_id=product_id))
    return _form_page(form, PRODUCT_GROUPS, _("Edit product {code}", code=record.code),
                      errors, url_for("masterdata.product", product_id=product_id),
                      editing=True, status=422 if form.errors else 200)


# -- parties and licences ------------------------------------------------------------------

@bp.get("/parties")
@requires("masterdata.view")
def parties() -> str:
    query = select(Party)
    q = request.args.get("q", "").strip()
    if q:
        query = query.where(like([Party.code, Party.name, Party.name_en, Party.contact], q))
    query = _active_filter(query, Party)
    kind = request.args.get("kind", "")
    if kind in md.PARTY_KINDS:
        query = query.where(getattr(Party, f"is_{kind}").is_(True))
    review = request.args.get("review", "")
    if review in ("pending", "approved", "rejected"):
        query = query.where(Party.review_status == review)
    page = paginate(query, {"code": Party.code, "name": Party.name,
                            "review": Party.review_status, "created": Party.created_at},
                    "code", "asc")
    return render_template("masterdata/parties.html", page=page, q=q, kinds=md.PARTY_KINDS)


@bp.route("/parties/new", methods=["GET", "POST"])
@requires("masterdata.edit")
def new_party() -> Page:
    form = PartyForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        kinds = [k for k in md.PARTY_KINDS if getattr(form, f"is_{k}").data]
        party, errors = _save(
            form, lambda: md.create_party(
                user(), form.code.data or "", form.name.data or "", kinds=kinds,
                name_en=form.name_en.data or "", country=form.country.data or "",
                address=form.address.data or "", contact=form.contact.data or "",
                notify_email=form.notify_email.data or "",
                notify_webhook=form.notify_webhook.data or "",
                user_facility=bool(form.user_facility.data)),
            _("The party was created."))
        if party is not None:
            return redirect(url_for("masterdata.party", party_id=party.id))
    return _form_page(form, PARTY_GROUPS, _("New party"), errors,
                      url_for("masterdata.parties"), editing=False,
                      status=422 if form.errors else 200)


@bp.get("/parties/<int:party_id>")
@requires("masterdata.view")
def party(party_id: int) -> str:
    record = _get(Party, party_id)
    return render_template("masterdata/party.html", party=record, review=ReviewForm(),
                           first_signature=first_in_session())


@bp.route("/parties/<int:party_id>/edit", methods=["GET", "POST"])
@requires("masterdata.edit")
def edit_party(party_id: int) -> Page:
    record: Party = _get(Party, party_id)
    form = PartyForm(obj=record)
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        saved, errors = _save(
            form, lambda: md.update_party(
                user(), record, form.reason.data or "", name=form.name.data,
                name_en=form.name_en.data, country=form.country.data,
                address=form.address.data, contact=form.contact.data,
                notify_email=form.notify_email.data, notify_webhook=form.notify_webhook.data,
                is_supplier=form.is_supplier.data, is_manufacturer=form.is_manufacturer.data,
                is_customer=form.is_customer.data, user_facility=form.user_facility.data),
            _("The party was changed."))
        if saved is not None:
            return redirect(url_for("masterdata.party", party_id=party_id))
    return _form_page(form, PARTY_GROUPS, _("Edit party {code}", code=record.code), errors,
                      url_for("masterdata.party", party_id=party_id), editing=True,
                      status=422 if form.errors else 200)


@bp.route("/parties/<int:party_id>/licences/new", methods=["GET", "POST"])
@requires("masterdata.edit")
def new_licence(party_id: int) -> Page:
    holder: Party = _get(Party, party_id)
    form = LicenceForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        licence, errors = _save(
            form, lambda: md.add_licence(
                user(), holder, form.type.data or "", form.number.data or "",
                expires_on=form.expires_on.data, scope_classes=form.scope_classes(),
                issuer=form.issuer.data or "", issued_on=form.issued_on.data,
                scope_text=form.scope_text.data or ""),
            _("The licence was recorded."))
        if licence is not None:
            return redirect(url_for("masterdata.party", party_id=party_id))
    return _form_page(form, LICENCE_GROUPS,
                      _("New licence of {name}", name=holder.name), _scope_errors(errors),
                      url_for("masterdata.party", party_id=party_id), editing=False,
                      status=422 if form.errors else 200)


def _scope_errors(errors: dict[str, str]) -> dict[str, str]:
    if "scope_classes" in errors:
        errors["class_i"] = errors.pop("scope_classes")
    return errors


@bp.route("/licences/<int:licence_id>/edit", methods=["GET", "POST"])
@requires("masterdata.edit")
def edit_licence(licence_id: int) -> Page:
    record: Licence = _get(Licence, licence_id)
    form = LicenceForm(obj=record)
    if request.method == "GET":
        form.class_i.data = "I" in record.classes
        form.class_ii.data = "II" in record.classes
        form.class_iii.data = "III" in record.classes
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        saved, errors = _save(
            form, lambda: md.update_licence(
                user(), record, form.reason.data or "", type=form.type.data,
                number=form.number.data, scope_classes=form.scope_classes(),
                scope_text=form.scope_text.data, issuer=form.issuer.data,
                issued_on=form.issued_on.data, expires_on=form.expires_on.data),
            _("The licence was changed."))
        if saved is not None:
            return redirect(url_for("masterdata.party", party_id=record.party_id))
    return _form_page(form, LICENCE_GROUPS, _("Edit licence {number}", number=record.number),
                      _scope_errors(errors),
                      url_for("masterdata.party", party_id=record.party_id), editing=True,
                      status=422 if form.errors else 200)


# -- first-purchase / first-sale review (首营) ---------------------------------------------

@bp.post("/<any(products, parties):kind>/<int:record_id>/review")
@requires("masterdata.review")
def review(kind: str, record_id: int) -> Response:
    record = _get(RECORDS[kind], record_id)
    form = ReviewForm()
    target = (url_for("masterdata.product", product_id=record_id) if kind == "products"
              else url_for("masterdata.party", party_id=record_id))
    if not form.validate_on_submit():
        flash(_("The review was not recorded: fill in the form again."), "error")
        return redirect(target)
    first = first_in_session()
    act = md.review_product if kind == "products" else md.review_party
    try:
        act(user(), record, form.decision.data or "", form.note.data or "",  # type: ignore[arg-type]
            password=form.password.data or "", username=form.username.data or "",
            first_in_session=first)
    except NotAuthenticated as refused:
        db.session.commit()  # the failed signature is evidence and counts towards lock-out
        flash(refusal(refused), "error")
    except GxpError as refused:
        db.session.rollback()
        flash(refusal(refused) + "".join(f" {_(v) if isinstance(v, str) else v}"
                                         for v in refused.fields.values()),
              "error")
    else:
        db.session.commit()
        remember_signature()
        flash(_("The review was signed and recorded."), "info")
    return redirect(target)


# -- sites and locations -------------------------------------------------------------------

@bp.get("/sites")
@requires("masterdata.view")
def sites() -> str:
    query = select(Site)
    q = request.args.get("q", "").strip()
    if q:
        query = query.where(like([Site.code, Site.name, Site.address], q))
    query = _active_filter(query, Site)
    region = request.args.get("region", "")
    if region in REGIONS:
        query = query.where(Site.region == region)
    page = paginate(query, {"code": Site.code, "name": Site.name, "region": Site.region},
                    "code", "asc")
    return render_template("masterdata/sites.html", page=page, q=q, regions=REGIONS)


@bp.route("/sites/new", methods=["GET", "POST"])
@requires("masterdata.edit")
def new_site() -> Page:
    form = SiteForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        site, errors = _save(
            form, lambda: md.create_site(user(), form.code.data or "", form.name.data or "",
                                         form.region.data or "", form.timezone.data or "",
                                         form.address.data or ""),
            _("The site was created."))
        if site is not None:
            return redirect(url_for("masterdata.sites"))
    return _form_page(form, SITE_GROUPS, _("New site"), errors, url_for("masterdata.sites"),
                      editing=False, status=422 if form.errors else 200)


@bp.route("/sites/<int:site_id>/edit", methods=["GET", "POST"])
@requires("masterdata.edit")
def edit_site(site_id: int) -> Page:
    record: Site = _get(Site, site_id)
    form = SiteForm(obj=record)
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        saved, errors = _save(
            form, lambda: md.update_site(user(), record, form.reason.data or "",
                                         name=form.name.data, region=form.region.data,
                                         timezone=form.timezone.data,
                                         address=form.address.data),
            _("The site was changed."))
        if saved is not None:
            return redirect(url_for("masterdata.sites"))
    return _form_page(form, SITE_GROUPS, _("Edit site {code}", code=record.code), errors,
                      url_for("masterdata.sites"), editing=True,
                      status=422 if form.errors else 200)


def _site_choices(form: LocationForm) -> None:
    form.site_id.choices = options((str(s.id), f"{s.code} {s.name}") for s in md.active_sites())


@bp.get("/locations")
@requires("masterdata.view")
def locations() -> str:
    query = select(Location).join(Site, Site.id == Location.site_id)
    q = request.args.get("q", "").strip()
    if q:
        query = query.where(like([Location.code, Location.name, Site.code], q))
    query = _active_filter(query, Location)
    site = request.args.get("site", "")
    if site.isdigit():
        query = query.where(Location.site_id == int(site))
    zone = request.args.get("zone", "")
    if zone in ZONES:
        query = query.where(Location.zone == zone)
    page = paginate(query, {"code": Location.code, "site": Site.code, "zone": Location.zone},
                    "site", "asc")
    all_sites = db.session.scalars(select(Site).order_by(Site.code)).all()
    return render_template("masterdata/locations.html", page=page, q=q, zones=ZONES,
                           sites=all_sites)


@bp.route("/locations/new", methods=["GET", "POST"])
@requires("masterdata.edit")
def new_location() -> Page:
    form = LocationForm()
    _site_choices(form)
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        site = db.session.get(Site, int(form.site_id.data)) if (
            form.site_id.data or "").isdigit() else None
        if site is None:
            errors = {"site_id": _("Choose a site.")}
        else:
            location, errors = _save(
                form, lambda: md.create_location(
                    user(), site, form.code.data or "", form.zone.data or "",
                    form.name.data or "", form.temp_min.data, form.temp_max.data),
                _("The location was created."))
            if location is not None:
                return redirect(url_for("masterdata.locations", site=site.id))
    return _form_page(form, LOCATION_GROUPS, _("New location"), errors,
                      url_for("masterdata.locations"), editing=False,
                      status=422 if form.errors else 200)


@bp.route("/locations/<int:location_id>/edit", methods=["GET", "POST"])
@requires("masterdata.edit")
def edit_location(location_id: int) -> Page:
    record: Location = _get(Location, location_id)
    form = LocationForm(obj=record)
    form.site_id.choices = options([(str(record.site_id), record.site.code)])
    form.site_id.render_kw = {"disabled": True}
    if request.method == "GET":
        form.site_id.data = str(record.site_id)
        form.temp_min.data = "" if record.temp_min is None else str(record.temp_min)
        form.temp_max.data = "" if record.temp_max is None else str(record.temp_max)
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        saved, errors = _save(
            form, lambda: md.update_location(user(), record, form.reason.data or "",
                                             name=form.name.data, zone=form.zone.data,
                                             temp_min=form.temp_min.data,
                                             temp_max=form.temp_max.data),
            _("The location was changed."))
        if saved is not None:
            return redirect(url_for("masterdata.locations", site=record.site_id))
    return _form_page(form, LOCATION_GROUPS, _("Edit location {label}", label=record.label),
                      errors, url_for("masterdata.locations", site=record.site_id),
                      editing=True, status=422 if form.errors else 200)


# -- retiring records (never deleted) ------------------------------------------------------

def _describe(kind: str, record: Any) -> tuple[str, str]:
    """A record's name and the page to go back to."""
    if kind == "products":
        return (f"{record.code} {record.name_en}",
                url_for("masterdata.product", product_id=record.id))
    if kind == "parties":
        return f"{record.code} {record.name}", url_for("masterdata.party", party_id=record.id)
    if kind == "licences":
        return (f"{LICENCE_TYPE_LABELS.get(record.type, record.type)} {record.number}",
                url_for("masterdata.party", party_id=record.party_id))
    if kind == "sites":
        return f"{record.code} {record.name}", url_for("masterdata.sites")
    return record.label, url_for("masterdata.locations", site=record.site_id)


@bp.route("/<any(products, parties, sites, locations, licences):kind>/<int:record_id>/"
          "<any(deactivate, activate):act>", methods=["GET", "POST"])
@requires("masterdata.edit")
def set_active(kind: str, record_id: int, act: str) -> Page:
    """Ask for confirmation and a reason, then retire (or bring back) the record."""
    record = _get(RECORDS[kind], record_id)
    name, back = _describe(kind, record)
    form = ActiveForm()
    errors: dict[str, str] = {}
    held = md.stock_on_hand(record) if act == "deactivate" and record.active else {}
    if form.validate_on_submit():
        done = (_("{name} was deactivated.", name=name) if act == "deactivate"
                else _("{name} is active again.", name=name))
        def change() -> Any:
            md.set_active(user(), record, act == "activate", form.reason.data or "",
                          stock_acknowledged=bool(form.stock_acknowledged.data))
            return record

        saved, errors = _save(form, change, done)
        if saved is not None:
            return redirect(back)
    elif request.method == "POST":
        errors = {"reason": _("Say why.")}
    status = 422 if errors else 200
    return render_template("masterdata/confirm_active.html", form=form, name=name, back=back,
                           act=act, errors=errors, held=held), status
