"""Views of the rule-pack pages: packs and versions, a version's rules, diffs, case runs,
upload of a new version, signed activation per site and the activation history."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from werkzeug.wrappers import Response

from engine.db import db
from engine.errors import GxpError, NotAuthenticated, NotFound
from engine.masterdata import service as md
from engine.masterdata.models import Site
from engine.rules import store
from engine.rules.conditions import describe
from engine.rules.models import RulePackActivation, RulePackVersion
from web import security
from web.i18n import form_problems, get_timezone, refusal
from web.i18n import translate as _
from web.paging import paginate
from web.rules import bp
from web.rules.forms import ActivateForm, DeactivateForm, EmptyForm, UploadForm
from web.security import requires

SIGNED_KEY = "signed_in_session"  # the session key every signing page sets (21 CFR 11.200)


def _in_effect() -> dict[int, list[str]]:
    """Version id -> codes of the sites where it is in effect now."""
    found: dict[int, list[str]] = {}
    for site in db.session.scalars(select(Site).order_by(Site.code)):
        for row in store.active_versions(site):
            found.setdefault(row.id, []).append(site.code)
    return found


@bp.get("/")
@requires("rules.view")
def index() -> str:
    query = select(RulePackVersion)
    search = request.args.get("q", "").strip()
    if search:
        like = f"%{search}%"
        query = query.where(or_(RulePackVersion.pack_id.ilike(like),
                                RulePackVersion.version.ilike(like),
                                RulePackVersion.title.ilike(like)))
    page = paginate(query, {"imported_at": RulePackVersion.imported_at,
                            "pack": RulePackVersion.pack_id,
                            "version": RulePackVersion.version,
                            "status": RulePackVersion.status}, "imported_at")
    in_effect = _in_effect()
    packs: dict[str, dict[str, Any]] = {}
    for row in store.versions():
        entry = packs.setdefault(row.pack_id, {"latest": row, "count": 0, "sites": []})
        entry["count"] += 1
        entry["sites"] += [f"{code}: {row.version}" for code in in_effect.get(row.id, [])]
    return render_template("rules/index.html", page=page, packs=packs, in_effect=in_effect,
                           search=search, upload=UploadForm())


@bp.post("/upload")
@requires("rules.import")
def upload() -> tuple[str, int] | Response:
    form = UploadForm()
    error = None
    fields: dict[str, Any] = {}
    if not form.validate_on_submit():
        error = _("The form expired; reload the page and upload again.")
    else:
        try:
            archive = request.files.get("archive")
            pack_file = request.files.get("pack_file")
            cases_file = request.files.get("cases_file")
            if archive and archive.filename:
                files = store.files_from_zip(archive.read(), archive.filename)
            elif pack_file and pack_file.filename and cases_file and cases_file.filename:
                # one byte over the limit is enough for the refusal to say "larger than"
                limit = store.MAX_FILE_BYTES + 1
                files = store.files_from_upload(pack_file.read(limit), cases_file.read(limit))
            else:
                raise GxpError(_("Choose a zip holding pack.yaml and cases.yaml, or both "
                                 "YAML files."), code="invalid", status=422)
            done = store.import_pack(security.user(), files)
        except GxpError as refused:
            db.session.rollback()
            error, fields = refusal(refused), refused.fields
        else:
            db.session.commit()
            row = done.version
            if done.created:
                flash(_("{label} imported; cases: {status}.", label=row.label,
                        status=_(row.status)), "info")
            else:
                flash(_("This content is already stored as {label}.", label=row.label), "info")
            return redirect(url_for("rules.version", version_id=row.id))
    return render_template("rules/upload_refused.html", error=error, fields=fields,
                           upload=form), 422


@bp.get("/versions/<int:version_id>")
@requires("rules.view")
def version(version_id: int) -> str:
    row = store.get_version(version_id)
    return _version_page(row)


def _version_page(row: RulePackVersion, report: Any = None) -> str:
    pack = store.pack_of(row)
    others = [other for other in store.versions() if other.id != row.id]
    rules = [{"rule": rule, "when": describe(rule.when)} for rule in pack.rules]
    return render_template("rules/version.html", row=row, pack=pack, rules=rules,
                           others=others, sites=_in_effect().get(row.id, []),
                           report=report, form=EmptyForm())


@bp.post("/versions/<int:version_id>/cases")
@requires("rules.test")
def run_cases(version_id: int) -> str | Response:
    row = store.get_version(version_id)
    if not EmptyForm().validate_on_submit():
        flash(_("The form expired; try again."), "warning")
        return redirect(url_for("rules.version", version_id=row.id))
    report = store.run_version_cases(security.user(), row)
    db.session.commit()
    return _version_page(row, report)


@bp.get("/diff")
@requires("rules.view")
def diff() -> str:
    try:
        old = store.get_version(int(request.args.get("old", "0")))
        new = store.get_version(int(request.args.get("new", "0")))
    except ValueError:
        raise NotFound(_("Choose two versions to compare.")) from None
    changes = store.diff_versions(old, new)
    return render_template("rules/diff.html", old=old, new=new, changes=changes,
                           versions=store.versions())


def _sites_for(row: RulePackVersion) -> list[Site]:
    return md.active_sites(row.region)


@bp.route("/versions/<int:version_id>/activate", methods=["GET", "POST"])
@requires("rules.activate")
def activate(version_id: int) -> tuple[str, int] | str | Response:
    from flask import session

    row = store.get_version(version_id)
    form = ActivateForm()
    sites = _sites_for(row)
    form.site.choices = [(site.code, f"{site.code} · {site.name}") for site in sites]
    error = None
    status = 200
    if request.method == "GET":
        form.username.data = security.user().username
    elif form.validate_on_submit():
        if not form.confirm.data:
            error = _("Tick the confirmation: activation is a signed, irreversible act.")
            status = 422
        else:
            when = form.effective_at.data
            effective = when.replace(tzinfo=get_timezone()) if when else None
            try:
                activation = store.activate(
                    security.user(), row, form.site.data or "", password=form.password.data or "",
                    username=form.username.data, effective_at=effective,
                    reason=form.reason.data or "")
            except NotAuthenticated as refused:
                db.session.commit()  # the failed signature attempt is evidence (lock-out)
                error, status = refusal(refused), 401
            except GxpError as refused:
                db.session.rollback()
                error, status = refusal(refused), refused.status
            else:
                db.session.commit()
                session[SIGNED_KEY] = True
                flash(_("{label} is active at {site} from {when}, signed.", label=row.label,
                        site=form.site.data, when=_local(activation.effective_at)), "info")
                return redirect(url_for("rules.history", site=form.site.data))
    else:
        error, status = form_problems(form), 422
    report_ok = row.status == "passed"
    return render_template("rules/activate.html", row=row, form=form, error=error,
                           sites=sites, report_ok=report_ok, tz=get_timezone().key), status


def _local(moment: Any) -> str:
    from web.i18n import localtime

    return localtime(moment)


@bp.get("/history")
@requires("rules.view")
def history() -> str:
    query = select(RulePackActivation)
    site_code = request.args.get("site", "").strip()
    sites = list(db.session.scalars(select(Site).order_by(Site.code)))
    if site_code:
        query = query.join(Site, Site.id == RulePackActivation.site_id).where(
            Site.code == site_code)
    page = paginate(query, {"effective_at": RulePackActivation.effective_at,
                            "created_at": RulePackActivation.created_at,
                            "pack": RulePackActivation.pack_id}, "effective_at")
    by_id = {site.id: site for site in sites}
    latest_rows = _latest_rows(sites)
    return render_template("rules/history.html", page=page, sites=sites, site_code=site_code,
                           by_id=by_id, latest_rows=latest_rows, form=DeactivateForm())


def _latest_rows(sites: list[Site]) -> set[int]:
    """Ids of the activation rows in effect now (one per pack and site)."""
    found: set[int] = set()
    for site in sites:
        for row in store.active_versions(site):
            current = store.current_activation(site, row.pack_id)
            if current is not None:
                found.add(current.id)
    return found


@bp.post("/sites/<site_code>/packs/<pack_id>/deactivate")
@requires("rules.activate")
def deactivate(site_code: str, pack_id: str) -> tuple[str, int] | Response:
    from flask import session

    form = DeactivateForm()
    if not form.validate_on_submit():
        flash(_("Give a reason, your user name and your password to switch a pack off."),
              "error")
        return redirect(url_for("rules.history", site=site_code))
    try:
        store.deactivate(security.user(), pack_id, site_code, password=form.password.data or "",
                         username=form.username.data, reason=form.reason.data or "")
    except NotAuthenticated as refused:
        db.session.commit()
        flash(refusal(refused), "error")
    except GxpError as refused:
        db.session.rollback()
        flash(refusal(refused), "error")
    else:
        db.session.commit()
        session[SIGNED_KEY] = True
        flash(_("{pack} is switched off at {site}.", pack=pack_id, site=site_code), "info")
    return redirect(url_for("rules.history", site=site_code))
