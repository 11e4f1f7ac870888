"""Views of the ledger pages. Reads are queries over balances and movements (paginated, sorted,
searched); every posting goes through the engine (`engine.ledger.counts`, `.temperature`),
which checks permissions, audits and flushes; the view commits."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import aliased
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from engine.db import db, utcnow
from engine.errors import GxpError, InvalidInput, NotAuthenticated, NotFound
from engine.ledger import counts, expiry, temperature
from engine.ledger import service as ledger
from engine.ledger import trace as tracing
from engine.ledger.models import (
    KINDS,
    STATUSES,
    CountSheet,
    Lot,
    SerialUnit,
    StockBalance,
    StockMovement,
    TemperatureExcursion,
    TemperatureImport,
)
from engine.masterdata import service as md
from engine.masterdata.models import Location, Party, Product, Site
from engine.signatures import signatures_of
from web.i18n import get_timezone, refusal
from web.i18n import translate as _
from web.ledger import bp
from web.ledger.forms import (
    CancelCountForm,
    CountEntryForm,
    OpenCountForm,
    PostCountForm,
    TemperatureForm,
)
from web.masterdata.forms import options
from web.masterdata.lists import like
from web.paging import paginate
from web.security import requires, user
from web.signing import first_in_session, remember_signature

Page = str | tuple[str, int] | Response
#: Endpoints (and their argument) that may show a workflow instance, first one registered wins.
INSTANCE_PAGES = (("processes.instance", "instance_id"), ("processes.show_instance", "instance_id"),
                  ("inbox.instance", "instance_id"))
READINGS_SHOWN = 500


def instance_url(instance_id: str | None) -> str | None:
    """The page of the workflow instance that caused a movement, when such a page exists."""
    if not instance_id:
        return None
    value: str | int = int(instance_id) if instance_id.isdigit() else instance_id
    for endpoint, argument in INSTANCE_PAGES:
        if endpoint in current_app.view_functions:
            try:
                return url_for(endpoint, **{argument: value})  # type: ignore[arg-type]
            except BuildError:
                continue
    return None


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"instance_url": instance_url, "kinds": KINDS, "statuses": STATUSES}


def _locations() -> list[Location]:
    return list(db.session.scalars(
        select(Location).join(Site, Site.id == Location.site_id)
        .where(Location.active.is_(True)).order_by(Site.code, Location.code)))


def _product_filter(key: str) -> Any:
    key = key.strip()
    conditions = [Product.code == key]
    if key.isdigit() and len(key) in (8, 12, 13, 14):
        conditions.append(Product.gtin == key.zfill(14))
    return or_(*conditions)


# -- stock -----------------------------------------------------------------------------------

def _stock_query() -> Select[Any]:
    b = StockBalance
    query: Any = (
        select(Product.id.label("product_id"), Product.code.label("product_code"),
               Product.name_zh, Product.name_en, Lot.id.label("lot_id"), Lot.lot_no,
               Lot.expiry_date, Lot.locked, Location.id.label("location_id"),
               Site.code.label("site_code"), Location.code.label("location_code"),
               Location.zone, b.status, func.sum(b.quantity).label("quantity"),
               func.sum(case((b.serial != "", 1), else_=0)).label("serials"))
        .select_from(b)
        .join(Product, Product.id == b.product_id)
        .join(Lot, Lot.id == b.lot_id)
        .join(Location, Location.id == b.location_id)
        .join(Site, Site.id == Location.site_id)
        .where(b.quantity > 0)
        .group_by(Product.id, Product.code, Product.name_zh, Product.name_en, Lot.id,
                  Lot.lot_no, Lot.expiry_date, Lot.locked, Location.id, Site.code,
                  Location.code, Location.zone, b.status)
    )
    args = request.args
    q = args.get("q", "").strip()
    if q:
        query = query.where(like([Product.code, Product.name_zh, Product.name_en, Product.gtin,
                                  Lot.lot_no, b.serial], q))
    if args.get("product", "").strip():
        query = query.where(_product_filter(args["product"]))
    if args.get("lot", "").strip():
        query = query.where(Lot.lot_no == args["lot"].strip())
    if args.get("site", "").isdigit():
        query = query.where(Site.id == int(args["site"]))
    if args.get("location", "").isdigit():
        query = query.where(Location.id == int(args["location"]))
    if args.get("status") in STATUSES:
        query = query.where(b.status == args["status"])
    return query


def _stock_page(scan_error: str | None = None, scan: str = "") -> tuple[str, int]:
    page = paginate(_stock_query(), {
        "product": Product.code, "lot": Lot.lot_no, "expiry": Lot.expiry_date,
        "location": Site.code + Location.code, "status": StockBalance.status,
        "quantity": func.sum(StockBalance.quantity)}, "product", "asc", scalars=False)
    sites = db.session.scalars(select(Site).order_by(Site.code)).all()
    return render_template("ledger/stock.html", page=page, sites=sites, locations=_locations(),
                           scan_error=scan_error, scan=scan,
                           today=utcnow().date()), 422 if scan_error else 200


@bp.get("/")
@requires("ledger.view")
def index() -> tuple[str, int]:
    return _stock_page()


@bp.get("/scan")
@requires("ledger.view")
def scan() -> Page:
    """What a keyboard-wedge scanner typed into the scan box: go to the lot (or serial)."""
    code = request.args.get("code", "")
    try:
        product, udi = ledger.identify(code)
        if udi.lot:
            lot = ledger.find_lot(product, udi.lot)
            if lot is None:
                raise NotFound(f"{product.code} has no lot {udi.lot!r} in the ledger: it was "
                               "never received here.")
        elif udi.serial:
            unit = ledger.serial_unit(product, udi.serial)
            if unit is None:
                raise NotFound(f"{product.code} has no serial {udi.serial!r} in the ledger.")
            lot = unit.lot
        else:
            return redirect(url_for("ledger.index", product=product.code))
    except GxpError as refused:
        return _stock_page(scan_error=refusal(refused), scan=code)
    return redirect(url_for("ledger.lot", lot_id=lot.id, serial=udi.serial or None))


# -- the lot page and its trace --------------------------------------------------------------

@bp.get("/lots/<int:lot_id>")
@requires("ledger.view")
def lot(lot_id: int) -> str:
    record = db.session.get(Lot, lot_id)
    if record is None:
        abort(404)
    product = record.product
    serial = request.args.get("serial", "").strip()
    result = tracing.trace(product, lot_no=record.lot_no, serial=serial or None)
    units = db.session.execute(
        select(SerialUnit.serial, SerialUnit.status, Site.code.label("site_code"),
               Location.code.label("location_code"))
        .outerjoin(Location, Location.id == SerialUnit.location_id)
        .outerjoin(Site, Site.id == Location.site_id)
        .where(SerialUnit.lot_id == record.id).order_by(SerialUnit.serial)).all()
    today = utcnow().date()
    days_left = (record.expiry_date - today).days if record.expiry_date else None
    state = ("expired" if days_left is not None and days_left < 0 else
             "near_expiry" if days_left is not None and days_left <= product.near_expiry_days
             else "ok")
    return render_template("ledger/lot.html", lot=record, product=product, trace=result,
                           serial=serial, balances=ledger.balances(lot=record), units=units,
                           days_left=days_left, expiry_state=state)


# -- movements -------------------------------------------------------------------------------

def _day_bound(value: str, *, end: bool) -> datetime | None:
    """The UTC instant a day starts (or the next day starts) in the user's time zone."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return None
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time.min, tzinfo=get_timezone()).astimezone(UTC)


@bp.get("/movements")
@requires("ledger.view")
def movements() -> str:
    m = StockMovement
    src, dst = aliased(Location), aliased(Location)
    src_site, dst_site = aliased(Site), aliased(Site)
    reversal = aliased(StockMovement)
    query: Any = (
        select(m.id, m.at, m.kind, m.quantity, m.serial, m.from_status, m.to_status, m.document,
               m.reason, m.actor_name, m.instance_id, m.task_id, m.reverses_id, m.lot_id,
               Product.code.label("product_code"), Lot.lot_no,
               src_site.code.label("from_site"), src.code.label("from_location"),
               dst_site.code.label("to_site"), dst.code.label("to_location"),
               Party.code.label("party_code"), Party.name.label("party_name"),
               reversal.id.label("reversed_by"))
        .select_from(m)
        .join(Product, Product.id == m.product_id)
        .join(Lot, Lot.id == m.lot_id)
        .outerjoin(src, src.id == m.from_location_id)
        .outerjoin(src_site, src_site.id == src.site_id)
        .outerjoin(dst, dst.id == m.to_location_id)
        .outerjoin(dst_site, dst_site.id == dst.site_id)
        .outerjoin(Party, Party.id == m.party_id)
        .outerjoin(reversal, reversal.reverses_id == m.id)
    )
    args = request.args
    errors: dict[str, str] = {}
    if args.get("kind") in KINDS:
        query = query.where(m.kind == args["kind"])
    if args.get("product", "").strip():
        query = query.where(_product_filter(args["product"]))
    if args.get("lot", "").strip():
        query = query.where(Lot.lot_no == args["lot"].strip())
    if args.get("serial", "").strip():
        query = query.where(m.serial == args["serial"].strip())
    if args.get("location", "").isdigit():
        where = int(args["location"])
        query = query.where(or_(m.from_location_id == where, m.to_location_id == where))
    if args.get("document", "").strip():
        query = query.where(m.document == args["document"].strip())
    if args.get("instance", "").strip():
        query = query.where(m.instance_id == args["instance"].strip())
    for name, end in (("from", False), ("to", True)):
        if args.get(name, "").strip():
            bound = _day_bound(args[name], end=end)
            if bound is None:
                errors[name] = _("Use a date like 2026-03-31.")
            else:
                query = query.where(m.at < bound if end else m.at >= bound)
    page = paginate(query, {"at": m.id, "kind": m.kind, "quantity": m.quantity,
                            "product": Product.code}, "at", "desc", scalars=False)
    return render_template("ledger/movements.html", page=page, locations=_locations(),
                           errors=errors, zone=get_timezone().key)


# -- expiry board ----------------------------------------------------------------------------

BOARD_SORTS = {
    "expiry": lambda row: (row.lot.expiry_date, row.lot.product.code),
    "product": lambda row: (row.lot.product.code, row.lot.lot_no, row.site.code),
    "site": lambda row: (row.site.code, row.lot.expiry_date),
    "quantity": lambda row: (row.quantity, row.lot.product.code),
}


@bp.get("/expiry")
@requires("ledger.view")
def expiry_board() -> str:
    sort = request.args.get("sort", "expiry")
    if sort not in BOARD_SORTS:
        sort = "expiry"
    direction = "desc" if request.args.get("dir") == "desc" else "asc"
    search = request.args.get("q", "").strip()[:100]
    rows = sorted((row for row in expiry.expiry_board() if _board_match(row, search)),
                  key=BOARD_SORTS[sort], reverse=direction == "desc")
    groups = [("expired", "Expired", [r for r in rows if r.state == "expired"]),
              ("near_expiry", "Near expiry", [r for r in rows if r.state == "near_expiry"])]
    return render_template("ledger/expiry.html", groups=groups, sort=sort, direction=direction,
                           search=search, shown=BOARD_ROWS)


#: Rows shown per group of the expiry board; a search narrows a longer one.
BOARD_ROWS = 200


def _board_match(row: Any, search: str) -> bool:
    """Whether a board row is the product (code or name), lot or site searched for."""
    if not search:
        return True
    needle = search.casefold()
    product = row.lot.product
    return any(needle in str(text).casefold() for text in (
        product.code, product.name_zh, product.name_en, row.lot.lot_no, row.site.code))


# -- stock counts (盘点) -----------------------------------------------------------------------

def _sheet(sheet_id: int) -> CountSheet:
    sheet = db.session.get(CountSheet, sheet_id)
    if sheet is None:
        abort(404)
    return sheet


def _open_count_form() -> OpenCountForm:
    form = OpenCountForm()
    form.location_id.choices = options((str(loc.id), f"{loc.label} {loc.name}")
                                       for loc in _locations())
    return form


@bp.post("/counts")
@requires("ledger.count")
def open_count() -> Response:
    form = _open_count_form()
    if form.validate_on_submit():
        location = (db.session.get(Location, int(form.location_id.data))
                    if (form.location_id.data or "").isdigit() else None)
        try:
            if location is None:
                raise InvalidInput("Choose the location to count.")
            sheet = counts.open_count(user(), location)
        except GxpError as refused:
            db.session.rollback()
            flash(refusal(refused), "error")
        else:
            db.session.commit()
            flash(_("Count sheet {number} is open: the location is frozen until it is posted "
                    "or cancelled.", number=sheet.number), "info")
            return redirect(url_for("ledger.count_sheet", sheet_id=sheet.id))
    return redirect(url_for("ledger.counts_page"))


@bp.get("/counts")
@requires("ledger.view")
def counts_page() -> str:
    form = _open_count_form()
    query = select(CountSheet).join(Location, Location.id == CountSheet.location_id)
    if request.args.get("status") in ("open", "posted", "cancelled"):
        query = query.where(CountSheet.status == request.args["status"])
    q = request.args.get("q", "").strip()
    if q:
        query = query.where(like([CountSheet.number, Location.code], q))
    page = paginate(query, {"opened": CountSheet.opened_at, "number": CountSheet.number,
                            "status": CountSheet.status}, "opened")
    return render_template("ledger/counts.html", page=page, form=form, q=q)


@bp.get("/counts/<int:sheet_id>")
@requires("ledger.view")
def count_sheet(sheet_id: int) -> str:
    return _sheet_page(_sheet(sheet_id))


def _sheet_page(sheet: CountSheet, errors: dict[str, str] | None = None,
                post_form: PostCountForm | None = None) -> Any:
    signed = signatures_of("count_sheet", sheet.id)
    body = render_template("ledger/count_sheet.html", sheet=sheet, entry=CountEntryForm(),
                           post=post_form or PostCountForm(), cancel=CancelCountForm(),
                           errors=errors or {}, signatures=signed,
                           first_signature=first_in_session())
    return (body, 422) if errors else body


@bp.post("/counts/<int:sheet_id>/record")
@requires("ledger.count")
def record_counts(sheet_id: int) -> Page:
    sheet = _sheet(sheet_id)
    form = CountEntryForm()
    if not form.validate_on_submit():
        return _sheet_page(sheet, {"counted": _("The form was not accepted; reload the page.")})
    errors: dict[str, str] = {}
    try:
        for line in list(sheet.lines):
            raw = request.form.get(f"counted-{line.id}", "").strip()
            if raw == "":
                continue
            if not raw.isdigit():
                errors[f"counted-{line.id}"] = _("Count a whole number, 0 or more.")
                continue
            counts.record_count(user(), sheet, line.lot, int(raw), serial=line.serial,
                                status=line.status,
                                note=request.form.get(f"note-{line.id}", ""))
        if form.found_product.data or form.found_lot.data:
            product = md.get_product(form.found_product.data or "")
            found_lot = ledger.get_lot(product, form.found_lot.data or "")
            raw = (form.found_counted.data or "").strip()
            if not raw.isdigit():
                errors["found_counted"] = _("Count a whole number, 0 or more.")
            else:
                counts.record_count(user(), sheet, found_lot, int(raw),
                                    serial=form.found_serial.data or "",
                                    note=_("Found during the count"))
        if errors:
            raise InvalidInput("Some counts could not be read.", fields=errors)
    except GxpError as refused:
        db.session.rollback()
        flash(refusal(refused), "error")
        return _sheet_page(sheet, {str(k): str(v) for k, v in refused.fields.items()}
                           or {"counted": refusal(refused)})
    db.session.commit()
    flash(_("The counts were saved."), "info")
    return redirect(url_for("ledger.count_sheet", sheet_id=sheet.id))


@bp.post("/counts/<int:sheet_id>/post")
@requires("ledger.count")
def post_count(sheet_id: int) -> Page:
    sheet = _sheet(sheet_id)
    form = PostCountForm()
    if not form.validate_on_submit():
        return _sheet_page(sheet, {name: _(str(messages[0])) for name, messages
                                   in form.errors.items()}, form)
    try:
        posted = counts.post_count(user(), sheet, form.reason.data or "",
                                   password=form.password.data or "",
                                   username=form.username.data or "",
                                   first_in_session=first_in_session())
    except NotAuthenticated as refused:
        db.session.commit()  # the failed signature is evidence and counts towards lock-out
        flash(refusal(refused), "error")
        return _sheet_page(sheet, {"password": refusal(refused)}, form)
    except GxpError as refused:
        db.session.rollback()
        flash(refusal(refused), "error")
        return _sheet_page(sheet, {str(k): str(v) for k, v in refused.fields.items()}
                           or {"reason": refusal(refused)}, form)
    db.session.commit()
    remember_signature()
    flash(_("Count sheet {number} was signed and posted: {count} adjustment(s).",
            number=sheet.number, count=len(posted)), "info")
    return redirect(url_for("ledger.count_sheet", sheet_id=sheet.id))


@bp.post("/counts/<int:sheet_id>/cancel")
@requires("ledger.count")
def cancel_count(sheet_id: int) -> Page:
    sheet = _sheet(sheet_id)
    form = CancelCountForm()
    if not form.validate_on_submit():
        return _sheet_page(sheet, {"cancel_reason": _("Say why.")})
    try:
        counts.cancel_count(user(), sheet, form.reason.data or "")
    except GxpError as refused:
        db.session.rollback()
        flash(refusal(refused), "error")
        return redirect(url_for("ledger.count_sheet", sheet_id=sheet.id))
    db.session.commit()
    flash(_("Count sheet {number} was cancelled.", number=sheet.number), "info")
    return redirect(url_for("ledger.count_sheet", sheet_id=sheet.id))


# -- temperature records ---------------------------------------------------------------------

def _temperature_form() -> TemperatureForm:
    form = TemperatureForm()
    form.location_id.choices = options([("", "—")] + [(str(loc.id), f"{loc.label} {loc.name}")
                                                      for loc in _locations()])
    return form


def _temperature_list(form: TemperatureForm, errors: dict[str, str]) -> tuple[str, int]:
    query = select(TemperatureImport).outerjoin(Location,
                                                Location.id == TemperatureImport.location_id)
    q = request.args.get("q", "").strip()
    if q:
        query = query.where(like([TemperatureImport.shipment, TemperatureImport.source,
                                  Location.code], q))
    if request.args.get("excursions") == "1":
        query = query.where(TemperatureImport.excursions > 0)
    page = paginate(query, {"imported": TemperatureImport.imported_at,
                            "first": TemperatureImport.first_at,
                            "excursions": TemperatureImport.excursions}, "imported")
    labels = {loc.id: loc.label for loc in db.session.scalars(
        select(Location).where(Location.id.in_({i.location_id for i in page.items
                                                if i.location_id})))}
    return render_template("ledger/temperatures.html", page=page, form=form, errors=errors,
                           q=q, labels=labels), 422 if errors else 200


@bp.get("/temperatures")
@requires("ledger.view")
def temperatures() -> tuple[str, int]:
    return _temperature_list(_temperature_form(), {})


@bp.post("/temperatures")
@requires("temperature.import")
def import_temperatures() -> Page:
    form = _temperature_form()
    if not form.validate_on_submit():
        return _temperature_list(form, {name: _(str(messages[0]))
                                        for name, messages in form.errors.items()})
    upload = form.file.data
    try:
        try:
            content = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("The file is not UTF-8 text: export the logger data as CSV.",
                               fields={"file": "Not a UTF-8 CSV file."}) from None
        location = None
        if form.subject.data == "location":
            location = (db.session.get(Location, int(form.location_id.data))
                        if (form.location_id.data or "").isdigit() else None)
            if location is None:
                raise InvalidInput("Choose the location the logger was in.",
                                   fields={"location_id": "Choose a location."})
        elif not (form.shipment.data or "").strip():
            raise InvalidInput("Give the shipment or receipt number.",
                               fields={"shipment": "Required."})
        record = temperature.import_csv(
            user(), content, source=upload.filename or "upload.csv", location=location,
            shipment=(form.shipment.data or "") if location is None else "",
            direction=(form.direction.data or "") if location is None else "",
            timezone=(form.timezone.data or "").strip() or (
                None if location is not None else get_timezone().key))
    except GxpError as refused:
        db.session.rollback()
        flash(refusal(refused), "error")
        return _temperature_list(form, {str(k): _(v) if isinstance(v, str) else str(v)
                                        for k, v in refused.fields.items()}
                                 or {"file": refusal(refused)})
    db.session.commit()
    if record.excursions:
        flash(_("{count} reading(s) imported; {excursions} excursion(s) flagged and quality "
                "notified.", count=record.readings, excursions=record.excursions), "warning")
    else:
        flash(_("{count} reading(s) imported; all within range.", count=record.readings), "info")
    return redirect(url_for("ledger.temperature_record", import_id=record.id))


@bp.get("/temperatures/<int:import_id>")
@requires("ledger.view")
def temperature_record(import_id: int) -> str:
    record = db.session.get(TemperatureImport, import_id)
    if record is None:
        abort(404)
    found = list(db.session.scalars(
        select(TemperatureExcursion).where(TemperatureExcursion.import_id == record.id)
        .order_by(TemperatureExcursion.first_at)))
    location = db.session.get(Location, record.location_id) if record.location_id else None
    readings = temperature.readings(record)
    ranges = [(e.allowed_min, e.allowed_max) for e in found]

    def outside(celsius: Any) -> bool:
        return any((low is not None and celsius < low) or (high is not None and celsius > high)
                   for low, high in ranges)

    return render_template("ledger/temperature.html", record=record, excursions=found,
                           location=location, readings=readings[:READINGS_SHOWN],
                           more=max(0, len(readings) - READINGS_SHOWN), outside=outside,
                           shipped=_shipment_lots(record.shipment) if record.shipment else [])


def _shipment_lots(document: str) -> list[Any]:
    """Lots that travelled under the shipment's document number (links to their pages)."""
    return list(db.session.execute(
        select(Lot.id, Lot.lot_no, Product.code.label("product_code"),
               func.sum(StockMovement.quantity).label("quantity"))
        .join(Lot, Lot.id == StockMovement.lot_id)
        .join(Product, Product.id == StockMovement.product_id)
        .where(and_(StockMovement.document == document,
                    StockMovement.kind.in_(("receive", "ship", "return_supplier"))))
        .group_by(Lot.id, Lot.lot_no, Product.code).order_by(Product.code, Lot.lot_no)))
