"""Views of the processes blueprint: definitions, deploy (upload or modeler), start, instances."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from flask import (
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from engine.db import db
from engine.errors import Conflict, GxpError, InvalidInput, NotAuthenticated, NotFound
from engine.identity.models import User
from engine.identity.roles import role_label
from engine.masterdata import service as md
from engine.rules.facts import STEPS
from engine.workflow import store
from engine.workflow.definitions import (
    DOCUMENT,
    MAX_BPMN_BYTES,
    ROLE_IDS,
    SIGNATURE_MEANINGS,
    DefinitionInvalid,
    Problem,
    rename_process,
)
from engine.workflow.forms import FormInvalid
from engine.workflow.models import (
    INSTANCE_STATUSES,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    ServiceCall,
)
from engine.workflow.runtime import current_runtime
from engine.workflow.tasks import element_states, field_labels, taken_flows
from web import security
from web.i18n import get_locale, get_timezone, refusal
from web.i18n import translate as _
from web.inbox.history import blocked_attempts, history
from web.paging import paginate
from web.processes import bp
from web.processes.forms import DeployForm, InstanceActionForm, StartForm
from web.security import requires
from web.signing import first_in_session, meaning_label, remember_signature

VIEWER_JS = "vendor/bpmn-js/bpmn-navigated-viewer.production.min.js"
MODELER_JS = "vendor/bpmn-js/bpmn-modeler.production.min.js"
#: The session key of the site a person last started a process at (preselected next time).
LAST_SITE = "start_site"
STARTER = Path(__file__).resolve().parent / "starter.bpmn"
STARTER_KEY = "new_process"  # the starter's process id, replaced by the key the user gives


def _vendor_ready(filename: str) -> bool:
    return Path(current_app.static_folder or "", filename).is_file()


def _names(user_ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())


def _definition(definition_id: int) -> ProcessDefinition:
    found = db.session.get(ProcessDefinition, definition_id)
    if found is None:
        raise NotFound(f"Process definition {definition_id} does not exist.")
    return found


# -- definitions -------------------------------------------------------------------------------


@bp.get("/")
@requires("processes.view")
def index() -> str:
    status = request.args.get("status", "")
    search = request.args.get("q", "").strip()[:100]
    query = select(ProcessDefinition)
    if status in ("draft", "active", "retired"):
        query = query.where(ProcessDefinition.status == status)
    if search:
        like = f"%{search}%"
        query = query.where(or_(ProcessDefinition.key.ilike(like),
                                ProcessDefinition.name.ilike(like)))
    page = paginate(query, {"key": ProcessDefinition.key, "version": ProcessDefinition.version,
                            "deployed": ProcessDefinition.deployed_at,
                            "status": ProcessDefinition.status}, "deployed")
    called = store.called_processes() if security.can("instances.start") else set()
    startable = {d.id: store.start_info(d, called).startable for d in page.items
                 if d.status == "active" and security.can("instances.start")}
    return render_template(
        "processes/index.html", page=page, status=status, search=search, startable=startable,
        names=_names({d.deployed_by for d in page.items}),
        signatures={d.id: store.signature_check(d) for d in page.items},
        meaning_label=meaning_label(store.DEPLOY_MEANING),
    )


@bp.get("/definitions/<int:definition_id>")
@requires("processes.view")
def definition(definition_id: int) -> str:
    found = _definition(definition_id)
    info = store.start_info(found)
    instances = db.session.scalar(
        select(func.count()).select_from(ProcessInstance)
        .where(ProcessInstance.definition_id == found.id))
    return render_template(
        "processes/definition.html", definition=found, info=info, instances=instances,
        names=_names({found.deployed_by}), signature=store.signature_check(found),
        meaning_label=meaning_label(store.DEPLOY_MEANING), viewer_ready=_vendor_ready(VIEWER_JS),
        versions=store.definitions(found.key),
    )


@bp.get("/definitions/<int:definition_id>/xml")
@requires("processes.view")
def download(definition_id: int) -> Response:
    found = _definition(definition_id)
    filename = f"{found.key}-v{found.version}.bpmn"
    return Response(found.bpmn_xml, mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# -- deploying ---------------------------------------------------------------------------------


def _deploy_page(form: DeployForm, *, problems: list[Problem] | None = None,
                 message: str | None = None, sign_error: str | None = None,
                 xml: str | None = None, key: str = "", status: int = 200
                 ) -> tuple[str, int]:
    """The upload page, or the modeler page when the XML came from the modeler (so the
    edits are not lost when the deployment is refused)."""
    common = {"form": form, "problems": problems or [], "message": message,
              "sign_error": sign_error, "first_signature": first_in_session(),
              "meaning": store.DEPLOY_MEANING,
              "meaning_label": meaning_label(store.DEPLOY_MEANING)}
    if form.source.data == "modeler" and xml is not None:
        return render_template("processes/modeler.html", xml=xml, key=key,
                               modeler_ready=_vendor_ready(MODELER_JS),
                               choices=_modeler_choices(), **common), status
    return render_template("processes/deploy.html", **common), status


def _modeler_choices() -> dict[str, Any]:
    """What the modeler's properties panel offers: the known compliance steps, the roles a
    lane is named after, the signature meanings, labelled in the user's language, and the
    connectors a service task may call (the engine's and the plugins')."""
    locale = get_locale()
    return {
        "steps": sorted(STEPS),
        "roles": [[role, role_label(role, locale)] for role in sorted(ROLE_IDS)],
        "meanings": [[meaning, meaning_label(meaning)] for meaning in sorted(SIGNATURE_MEANINGS)],
        "connectors": sorted(current_runtime().connectors),
    }


def _posted_file(form: DeployForm) -> tuple[bytes, str] | None:
    if form.source.data == "modeler":
        text = form.xml.data or ""
        key = re.sub(r"[^A-Za-z0-9_.-]", "_", form.key.data or "process")[:100]
        return text.encode("utf-8"), f"{key}.bpmn"
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return None
    data = upload.stream.read(MAX_BPMN_BYTES + 1)
    name = re.sub(r"[^A-Za-z0-9_.() -]", "_", Path(upload.filename).name)[:200] or "upload.bpmn"
    return data, name


@bp.route("/deploy", methods=["GET", "POST"])
@requires("processes.deploy")
def deploy() -> tuple[str, int] | Response:
    form = DeployForm()
    if request.method == "GET":
        return _deploy_page(form)
    xml_text = form.xml.data if form.source.data == "modeler" else None
    if not form.validate_on_submit():
        return _deploy_page(form, message=_("Some fields are not valid."), xml=xml_text,
                            key=form.key.data or "", status=400)
    posted = _posted_file(form)
    if posted is None:
        return _deploy_page(form, message=_("Choose a BPMN file to upload."), status=400)
    xml, filename = posted
    edits, new = None, False
    if form.source.data == "modeler":  # the key it edits, or a new process's own key
        edits = form.key.data or None
        if edits is None:
            new = True
            if not form.new_key.data:
                return _deploy_page(form, message=_("Give the new process its key."),
                                    xml=xml_text, status=400)
            xml = rename_process(xml, STARTER_KEY, form.new_key.data)
            filename = f"{form.new_key.data}.bpmn"
    if not form.password.data:
        return _deploy_page(form, sign_error=_("Enter your password to sign the deployment."),
                            xml=xml_text, key=form.key.data or "", status=400)
    try:
        definition = store.deploy_signed(
            security.user(), xml, filename, password=form.password.data,
            note=(form.note.data or "").strip(), username=form.username.data or "",
            first_in_session=first_in_session(), policy=security.policy(), edits=edits,
            new=new)
    except DefinitionInvalid as refused:
        db.session.rollback()
        # The list names each problem in the user's language; the refusal's own message
        # repeats them all in English, so the page heads the list with its translated summary.
        return _deploy_page(form, problems=refused.problems,
                            message=None if refused.problems else refusal(refused),
                            xml=xml_text, key=form.key.data or "", status=400)
    except NotAuthenticated as refused:
        db.session.commit()  # the failed signature is evidence and counts towards lock-out
        return _deploy_page(form, sign_error=refusal(refused), xml=xml_text,
                            key=form.key.data or "", status=401)
    except (Conflict, InvalidInput) as refused:
        db.session.rollback()
        return _deploy_page(form, message=refusal(refused), xml=xml_text,
                            key=form.key.data or "", status=409)
    except IntegrityError:
        db.session.rollback()
        return _deploy_page(form, message=_("Someone deployed this process at the same time; "
                                            "reload and try again."), xml=xml_text,
                            key=form.key.data or "", status=409)
    except GxpError as refused:  # any other refusal is shown, never a server error
        db.session.rollback()
        return _deploy_page(form, problems=[Problem(DOCUMENT, refusal(refused))],
                            message=refusal(refused), xml=xml_text, key=form.key.data or "",
                            status=400)
    db.session.commit()
    remember_signature()
    flash(_("Deployed {key} version {version}, signed.", key=definition.key,
            version=definition.version), "info")
    return redirect(url_for("processes.definition", definition_id=definition.id))


@bp.get("/modeler")
@bp.get("/<key>/modeler")
@requires("processes.deploy")
def modeler(key: str | None = None) -> tuple[str, int]:
    if key:
        current = store.active_definition(key)
        assert current is not None
        xml = current.bpmn_xml
    else:
        xml = STARTER.read_text(encoding="utf-8")
    form = DeployForm(formdata=None, source="modeler", key=key or "")
    return _deploy_page(form, xml=xml, key=key or "")


@bp.post("/check")
@requires("processes.deploy")
def check() -> tuple[Response, int]:
    """The modeler's diagram checked as deploying would check it, nothing stored: JSON
    `{"ok", "process_key", "message", "problems": [{"element_id", "reason", "line"}]}`."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("xml"), str):
        message = _("Send the diagram's XML as JSON: an object with the key xml.")
        return jsonify(ok=False, process_key=None, message=message,
                       problems=[{"element_id": DOCUMENT, "reason": message, "line": None}]), 400
    xml: str = payload["xml"]
    # A lone surrogate is refused before any view (web.errors); were one to come, it is passed
    # through and the check refuses it as not UTF-8 rather than failing.
    result = store.validate(xml.encode("utf-8", "surrogatepass"), "modeler.bpmn")
    problems = list(result.problems)
    editing = payload.get("key")
    if isinstance(editing, str) and editing and result.process_key not in (None, editing):
        problems.append(Problem(str(result.process_key), _(
            "This diagram's process id is {found}, but the modeler is editing {key}: deploying "
            "would be refused.", found=result.process_key, key=editing)))
    ok = result.ok and not problems
    message = (_("No problems found in the diagram.") if ok
               else _("Deploying would be refused: correct the problems listed."))
    return jsonify(ok=ok, process_key=result.process_key, message=message,
                   problems=[{"element_id": p.element_id, "reason": _(p.reason), "line": p.line}
                             for p in problems]), 200


# -- starting ----------------------------------------------------------------------------------


@bp.route("/<key>/start", methods=["GET", "POST"])
@requires("instances.start")
def start(key: str) -> tuple[str, int] | Response:
    found = store.active_definition(key)
    assert found is not None
    info = store.start_info(found)
    if not info.startable:
        raise Conflict(_("The process {key} cannot be started from a page: {reason}",
                         key=key, reason=_(info.reason)))
    form = StartForm()
    sites = md.active_sites()
    form.site_code.choices = [SelectChoice("", "—")] + [
        SelectChoice(site.code, f"{site.code} · {site.name}") for site in sites]
    if request.method == "GET":  # the site this person started at last, or the only one
        last = session.get(LAST_SITE)
        codes = [site.code for site in sites]
        form.site_code.data = last if last in codes else (codes[0] if len(codes) == 1 else "")
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    status = 200
    if form.validate_on_submit():
        fields = info.form.fields if info.form else ()
        values = {f.name: request.form[f.name] for f in fields if f.name in request.form}
        try:
            data = info.form.validate(values, tz=get_timezone()) if info.form else {}
            instance = current_runtime().start(
                security.user(), key, data, subject=(form.subject.data or "").strip(),
                site_code=(form.site_code.data or "").strip() or None)
        except FormInvalid as invalid:
            db.session.rollback()
            errors = invalid.messages(get_locale())
            status = 422
        except InvalidInput as refused:  # the runtime's checks: the site
            db.session.rollback()
            errors = {"site_code" if name == "site" else name: _(text)
                      for name, text in refused.fields.items()} or {"subject": refusal(refused)}
            status = 422
        else:
            db.session.commit()
            session[LAST_SITE] = instance.site_code or ""
            first = _first_task_for(instance.id, security.user())
            if first is not None:  # the starter does the first step: straight to its form
                flash(_("Started {key} #{id}: its first task is yours.", key=key,
                        id=instance.id), "info")
                return redirect(url_for("inbox.task", task_id=first))
            flash(_("Started {key} #{id}.", key=key, id=instance.id), "info")
            return redirect(url_for("processes.instance", instance_id=instance.id))
    elif request.method == "POST":
        status = 422
    return render_template("processes/start.html", definition=found, form=form,
                           fields=info.form.fields if info.form else (), values=values,
                           errors=errors, locale=get_locale()), status


def _first_task_for(instance_id: int, user: User) -> int | None:
    """The open task of a just-started instance that `user` may do now (theirs, or unclaimed
    for a role they hold), if there is exactly one."""
    from engine.identity import service as identity

    found = list(db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.status == "open",
        HumanTask.role.in_(identity.effective_roles(user)),
        or_(HumanTask.assignee_id.is_(None), HumanTask.assignee_id == user.id))))
    if len(found) != 1:
        return None
    apart = current_runtime().four_eyes(found[0])  # not a step they must be done apart from
    return None if apart is not None and apart[1] == user.id else found[0].id


# -- instances ---------------------------------------------------------------------------------


@bp.get("/instances")
@requires("instances.view")
def instances() -> str:
    status = request.args.get("status", "")
    process = request.args.get("process", "").strip()[:120]
    search = request.args.get("q", "").strip()[:100]
    query = select(ProcessInstance)
    if status in INSTANCE_STATUSES:
        query = query.where(ProcessInstance.status == status)
    if process:
        query = query.where(ProcessInstance.process_key == process)
    if search:
        query = query.where(ProcessInstance.subject.ilike(f"%{search}%"))
    page = paginate(query, {"id": ProcessInstance.id, "started": ProcessInstance.started_at,
                            "updated": ProcessInstance.updated_at,
                            "status": ProcessInstance.status,
                            "subject": ProcessInstance.subject}, "started")
    keys = list(db.session.scalars(select(ProcessDefinition.key).distinct()
                                   .order_by(ProcessDefinition.key)))
    return render_template("processes/instances.html", page=page, status=status,
                           process=process, search=search, statuses=INSTANCE_STATUSES,
                           keys=keys, names=_names({i.started_by for i in page.items}))


def _instance(instance_id: int) -> ProcessInstance:
    found = db.session.get(ProcessInstance, instance_id)
    if found is None:
        raise NotFound(f"Process instance {instance_id} does not exist.")
    return found


@bp.get("/instances/<int:instance_id>")
@requires("instances.view")
def instance(instance_id: int) -> str:
    found = _instance(instance_id)
    definition_row = _definition(found.definition_id)
    try:
        workflow = current_runtime().load(found)
        states = {"elements": element_states(workflow), "flows": taken_flows(workflow)}
        labels = field_labels(found.definition_id, lambda: workflow)
    except GxpError:
        states, labels = {"elements": {}, "flows": []}, {}
    tasks = list(db.session.scalars(select(HumanTask).where(HumanTask.instance_id == found.id)
                                    .order_by(HumanTask.id)))
    calls = list(db.session.scalars(select(ServiceCall).where(ServiceCall.instance_id == found.id)
                                    .order_by(ServiceCall.id)))
    entries = history(found.id)
    # The shipping step of an outbound process leaves its delivery note (随货同行单).
    delivery_note = any(entry.data.get("delivery_note_url") for entry in entries)
    return render_template(
        "processes/instance.html", instance=found, definition=definition_row,
        states=states, tasks=tasks, calls=calls, history=entries, labels=labels,
        delivery_note=delivery_note and security.can("ledger.view"),
        blocked=blocked_attempts([t.id for t in tasks]), locale=get_locale(),
        names=_names({found.started_by, *(t.assignee_id for t in tasks),
                      *(t.completed_by for t in tasks)}),
        viewer_ready=_vendor_ready(VIEWER_JS), action_form=InstanceActionForm(formdata=None),
        states_json=json.dumps(states),
    )


ACTIONS = {"suspend": "Suspended", "resume": "Resumed", "terminate": "Terminated"}


@bp.post("/instances/<int:instance_id>/<any(suspend, resume, terminate):action>")
@requires("instances.manage")
def manage(instance_id: int, action: str) -> Response | tuple[str, int]:
    form = InstanceActionForm()
    if not form.validate_on_submit():
        problems = []
        if not (form.reason.data or "").strip():
            problems.append(_("A reason is required."))
        if not form.confirm.data:
            problems.append(_("Tick the box to confirm."))
        flash(" ".join(problems) or _("Some fields are not valid."), "error")
        return redirect(url_for("processes.instance", instance_id=instance_id))
    runtime = current_runtime()
    act = {"suspend": runtime.suspend, "resume": runtime.resume,
           "terminate": runtime.terminate}[action]
    try:
        act(security.user(), instance_id, (form.reason.data or "").strip())
    except (Conflict, InvalidInput) as refused:
        db.session.rollback()
        flash(refusal(refused), "error")
    else:
        db.session.commit()
        flash(_(ACTIONS[action]) + f": #{instance_id}", "info")
    return redirect(url_for("processes.instance", instance_id=instance_id))


@bp.post("/instances/<int:instance_id>/retry")
@requires("tasks.retry")
def retry(instance_id: int) -> Response:
    try:
        current_runtime().retry(security.user(), instance_id)
    except Conflict as refused:
        db.session.rollback()
        flash(refusal(refused), "error")
    else:
        db.session.commit()
        flash(_("Retried: #{id}.", id=instance_id), "info")
    return redirect(url_for("processes.instance", instance_id=instance_id))
