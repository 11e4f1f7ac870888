"""Views of the inbox: the three tabs, claim / release / assign, and the task page."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from typing import Any

from flask import flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from engine import attachments
from engine.db import db
from engine.errors import Conflict, GxpError, InvalidInput, NotAuthenticated, PermissionDenied
from engine.identity import service as identity
from engine.identity.models import User
from engine.identity.roles import role_label
from engine.processes import worklist_for
from engine.workflow import inbox
from engine.workflow.definitions import UserTaskMeta
from engine.workflow.forms import FieldSpec, FormInvalid, FormSpec
from engine.workflow.models import HumanTask, ProcessDefinition, ProcessInstance
from engine.workflow.runtime import GateBlocked, SignatureRequired, current_runtime
from engine.workflow.tasks import Labels, field_labels
from web import security
from web.auth.forms import EmptyForm
from web.i18n import get_locale, get_timezone, refusal
from web.i18n import translate as _
from web.inbox import bp
from web.inbox.forms import AssignForm, TaskForm
from web.inbox.history import blocked_attempts, history
from web.paging import Page, page_args, paginate
from web.security import requires
from web.signing import PageSigner, first_in_session, meaning_label, remember_signature

TABS: tuple[tuple[str, str], ...] = (
    ("mine", "My tasks"),
    ("unclaimed", "Unclaimed for my roles"),
    ("overdue", "Overdue"),
)


def inbox_page() -> dict[str, Any]:
    """The inbox's tabs, filters and the current page of tasks (also shown on the home page)."""
    user = security.user()
    roles = identity.effective_roles(user)
    counts = inbox.counts(user.id, roles)
    tab = request.args.get("tab", "")
    if tab not in dict(TABS):  # nothing of mine to do: show what I could pick up
        tab = "mine" if counts["mine"] or not counts["unclaimed"] else "unclaimed"
    filters = {
        "q": request.args.get("q", "").strip()[:100],
        "step": request.args.get("step", "").strip()[:60],
        "process": request.args.get("process", "").strip()[:120],
    }
    default_sort = "due" if tab == "overdue" else "created"
    if any(filters.values()) or tab not in counts:
        query = inbox.inbox_query(user.id, roles, tab, step=filters["step"] or None,
                                  search=filters["q"] or None,
                                  process_key=filters["process"] or None)
        page = paginate(query, inbox.SORTABLE, default_sort, "asc")
    else:
        # No filter: read just this page in its order (each role's part cut at the rows the
        # page needs) and take the total from the tab's capped count.
        page = _tab_page(user.id, roles, tab, default_sort, int(counts[tab]))
    processes = list(db.session.scalars(_ACTIVE_PROCESSES))
    return {
        "tabs": TABS, "tab": tab, "page": page, "filters": filters,
        "counts": counts, "process_keys": inbox.process_keys(page.items),
        "processes": processes, "roles": roles, "user": user, "action_form": EmptyForm(),
        "assignees": _names({t.assignee_id for t in page.items if t.assignee_id}),
    }


_ACTIVE_PROCESSES = (select(ProcessDefinition.key).where(ProcessDefinition.status == "active")
                     .order_by(ProcessDefinition.key))


def _tab_page(user_id: int, roles: Any, tab: str, default_sort: str, total: int) -> Page:
    args = page_args(inbox.SORTABLE, default_sort, "asc")
    items = inbox.page(user_id, roles, tab, sort=args.sort, direction=args.direction,
                       limit=args.per_page, offset=args.offset)
    return Page(items, args.number, args.per_page, total, args.sort, args.direction)


@bp.get("/")
@requires("tasks.view")
def index() -> str:
    return render_template("inbox/index.html", **inbox_page())


def _names(user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = db.session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids)))
    return {user_id: name for user_id, name in rows}


def _back(task_id: int) -> str:
    return security.local_target(request.form.get("next"),
                                 url_for("inbox.task", task_id=task_id))


@bp.post("/tasks/<int:task_id>/claim")
@requires("tasks.view")
def claim(task_id: int) -> Response:
    EmptyForm().validate_on_submit()
    try:
        current_runtime().claim(security.user(), task_id)
    except (Conflict, PermissionDenied) as refused:
        db.session.rollback()
        flash(refusal(refused), "error")
    else:
        db.session.commit()
        flash(_("The task is yours now."), "info")
    return redirect(_back(task_id))


@bp.post("/tasks/<int:task_id>/release")
@requires("tasks.view")
def release(task_id: int) -> Response:
    EmptyForm().validate_on_submit()
    try:
        current_runtime().release(security.user(), task_id)
    except (Conflict, PermissionDenied) as refused:
        db.session.rollback()
        flash(refusal(refused), "error")
    else:
        db.session.commit()
        flash(_("The task is back in the unclaimed list of its role."), "info")
    return redirect(_back(task_id))


@bp.post("/tasks/<int:task_id>/assign")
@requires("tasks.assign")
def assign(task_id: int) -> Response:
    runtime = current_runtime()
    row = runtime.task_row(task_id)
    form = AssignForm()
    form.assignee.choices = _assignee_choices(row)
    if not form.validate_on_submit():
        for field, reasons in form.errors.items():
            flash(f"{_(getattr(form, field).label.text)}: {_(reasons[0])}", "error")
        return redirect(_back(task_id))
    assignee = db.session.get(User, form.assignee.data)
    try:
        if assignee is None:
            raise InvalidInput("Choose a user.", fields={"assignee": "Choose a user."})
        runtime.assign(security.user(), task_id, assignee, form.reason.data or "")
    except (Conflict, InvalidInput) as refused:
        db.session.rollback()
        flash(refusal(refused), "error")
    else:
        db.session.commit()
        flash(_("The task is assigned to {name}.", name=assignee.full_name), "info")
    return redirect(_back(task_id))


def _assignee_choices(row: HumanTask) -> list[tuple[int, str]]:
    users = identity.users_with_role(row.role)
    return [(u.id, f"{u.full_name} ({u.username})") for u in sorted(users, key=lambda u: u.id)
            if row.role in identity.effective_roles(u)]


# -- the task page -----------------------------------------------------------------------------


def _posted(spec: FormSpec | None, user: User) -> dict[str, Any]:
    """The task's own fields from the request (lists as lists, files stored as attachments in
    this transaction); other fields are ignored."""
    if spec is None:
        return {}
    values: dict[str, Any] = {}
    for field in spec.fields:
        if field.type == "file":
            values[field.name] = _uploads(field.name, user)
        elif field.type == "list" and field.options:
            chosen = request.form.getlist(field.name)
            if chosen:
                values[field.name] = chosen
        elif field.name in request.form:
            values[field.name] = request.form[field.name]
    return values


def _uploads(name: str, user: User) -> list[attachments.StoredFile]:
    """Store the files posted in a file field (none chosen: an empty list)."""
    stored = []
    for upload in request.files.getlist(name):
        if not upload or not upload.filename:
            continue
        content = upload.stream.read(attachments.MAX_BYTES + 1)  # one byte over: refused
        stored.append(attachments.store(user, upload.filename, content, upload.mimetype or "",
                                        field=name))
    return stored


@bp.get("/attachments/<int:attachment_id>")
@requires("tasks.view")
def attachment(attachment_id: int) -> Response:
    """A task's attached file, as it was uploaded (its SHA-256 in a header to check it)."""
    row = attachments.get(attachment_id)
    response = send_file(BytesIO(row.content), mimetype=row.content_type,
                         as_attachment=True, download_name=row.filename)
    response.headers["X-Content-SHA256"] = row.sha256
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _shown(spec: FormSpec | None, data: dict[str, Any]) -> dict[str, Any]:
    """Current values to show in the form: what the task data already holds for its fields."""
    if spec is None:
        return {}
    shown: dict[str, Any] = {}
    for field in spec.fields:
        value = data.get(field.name)
        if value is None or field.type == "file" or field.blank:  # a browser cannot refill a
            continue  # file chooser; a blank field is entered anew by this task's performer
        if field.type == "list" and not field.options and isinstance(value, list):
            value = "\n".join(str(item) for item in value)
        shown[field.name] = value if isinstance(value, list | bool) else str(value)
    return shown


def _load(row: HumanTask, instance: ProcessInstance
          ) -> tuple[UserTaskMeta | None, dict[str, Any], FourEyes | None, Labels]:
    """The task's meta, data, four-eyes condition and the process's field labels from the
    workflow (None for a task no longer in it)."""
    runtime = current_runtime()
    try:
        task, meta, data = runtime.task_view(row)
        found = runtime.four_eyes(row, task)
        labels = field_labels(instance.definition_id, lambda: task.workflow.top_workflow)
    except (GxpError, AttributeError, ValueError, KeyError):
        return None, {}, None, {}
    if found is None:
        return meta, data, None, labels
    step, performer = found
    title = db.session.scalar(
        select(HumanTask.title).where(HumanTask.instance_id == row.instance_id,
                                      HumanTask.step == step, HumanTask.status == "completed")
        .order_by(HumanTask.id.desc()).limit(1))
    return meta, data, FourEyes(step, title or step, performer), labels


def _labels(instance: ProcessInstance) -> Labels:
    """The process's field labels for a page whose task is done (the workflow read only the
    first time its definition is shown)."""
    try:
        return field_labels(instance.definition_id, lambda: current_runtime().load(instance))
    except (GxpError, AttributeError, ValueError, KeyError):
        return {}


@dataclass(frozen=True)
class FourEyes:
    """A four-eyes task: the step it is apart from, that step's title and who performed it."""

    step: str
    title: str
    performer: int | None


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@requires("tasks.view")
def task(task_id: int) -> tuple[str, int] | Response:
    runtime = current_runtime()
    user = security.user()
    form = TaskForm()
    state: dict[str, Any] = {"errors": {}, "blocked": None, "sign_error": None,
                             "sign_notice": False}
    status = 200
    if request.method == "POST":
        form.validate_on_submit()  # CSRF is checked for every POST; the fields are optional
        # Lock first: the checks below and the completion see the rows as they are now.
        instance, row = runtime.lock_task(task_id)
        roles = identity.effective_roles(user)
        if not _open_for(row, instance, roles, user):
            raise Conflict(_reason_not_actionable(row, instance, roles, user))
        posted: dict[str, Any] = {}

        def read_form(meta: UserTaskMeta) -> dict[str, Any]:
            posted.update(_posted(meta.form, user))
            return posted

        signer = (PageSigner(user, form.username.data or "", form.password.data or "")
                  if form.password.data else None)
        title = row.title
        try:
            runtime.complete(user, row.id, read_form, signer=signer, tz=get_timezone())
        except FormInvalid as invalid:
            db.session.rollback()
            state["errors"] = invalid.messages(get_locale())
            status = 422
        except SignatureRequired as required:
            db.session.rollback()
            state["meaning"] = required.meaning
            state["sign_notice"] = True
            status = 428
        except GateBlocked as blocked:
            db.session.commit()  # the refusal is evidence: its audit event only
            state["blocked"] = blocked.outcome
            status = 422
        except NotAuthenticated as refused:
            db.session.commit()  # the failed signature counts towards the lock-out
            state["sign_error"] = refusal(refused)
            if signer is not None and signer.meaning:  # ask again, for what was to be signed
                state["meaning"] = signer.meaning
            status = 401
        except (Conflict, PermissionDenied, InvalidInput) as refused:
            db.session.rollback()
            flash(refusal(refused), "error")
            status = refused.status
        else:
            db.session.commit()
            if signer is not None and signer.signed:
                remember_signature()
            flash(_("Task completed: {title}.", title=title), "info")
            return redirect(url_for("inbox.index"))
        if posted:  # the form was read: show what was sent (a file chooser shows nothing)
            state["values"] = posted
    instance, row = runtime.task_with_instance(task_id)
    meta, data, four_eyes, labels = (_load(row, instance) if row.status == "open"
                                     else (None, {}, None, _labels(instance)))
    roles = identity.effective_roles(user)
    may_act = _open_for(row, instance, roles, user) and meta is not None
    mine_to_review = four_eyes is not None and four_eyes.performer == user.id
    work = worklist_for(row.step, instance, data) if meta is not None else None
    may_act = may_act and not mine_to_review
    state.setdefault("values", _shown(meta.form if meta else None, data))
    state.setdefault("meaning", meta.signature_meaning if meta else None)
    return render_template(
        "inbox/task.html", row=row, instance=instance, meta=meta, form=form, may_act=may_act,
        fields=_fields(meta), history=history(instance.id), locale=get_locale(),
        blocked_before=blocked_attempts([row.id]), first_signature=first_in_session(),
        meaning_label=meaning_label(state["meaning"]), action_form=EmptyForm(),
        assign_form=_assign_form(row), role_name=role_label(row.role, get_locale()),
        names=_names({i for i in (row.assignee_id, row.completed_by,
                                  four_eyes and four_eyes.performer) if i}),
        not_actionable=None if may_act or mine_to_review
        else _reason_not_actionable(row, instance, roles, user),
        four_eyes=four_eyes, mine_to_review=mine_to_review, worklist=work, labels=labels,
        **state,
    ), status


def _open_for(row: HumanTask, instance: ProcessInstance, roles: set[str], user: User) -> bool:
    """Whether `user` may complete the task now (the workflow may still say it is not READY)."""
    return (row.status == "open" and row.role in roles and row.assignee_id in (None, user.id)
            and instance.status in ("running", "waiting"))


def _fields(meta: UserTaskMeta | None) -> tuple[FieldSpec, ...]:
    return meta.form.fields if meta and meta.form else ()


def _assign_form(row: HumanTask) -> AssignForm | None:
    if row.status != "open" or not security.can("tasks.assign"):
        return None
    form = AssignForm(formdata=None)
    form.assignee.choices = _assignee_choices(row)
    return form


def _reason_not_actionable(row: HumanTask, instance: ProcessInstance, roles: set[str],
                           user: User) -> str:
    if row.status != "open":
        return _("This task is already {status}.", status=_(row.status))
    if instance.status not in ("running", "waiting"):
        return _("The process is {status}; its tasks cannot be completed.",
                 status=_(instance.status))
    if row.role not in roles:
        return _("This task is for the role {role}; you do not hold it.",
                 role=role_label(row.role, get_locale()))
    if row.assignee_id not in (None, user.id):
        return _("This task is claimed by someone else.")
    return _("This task can no longer be opened from its process.")
