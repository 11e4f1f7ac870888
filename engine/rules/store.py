"""Rule packs in the database: import versions, run their cases, diff them, activate them per
site with an e-signature, and find the packs active for a site at a moment.

Services flush, never commit. Every act is audited; activation is a Part 11 signed act
("approved") and bumps the generation counter, so every process reloads its active packs at
its next evaluation (`ActivePacks`).
"""

from __future__ import annotations

import hashlib
import io
import threading
import uuid
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select, update

from engine import audit, signatures
from engine.db import db, utcnow
from engine.errors import Bilingual, Conflict, InvalidInput, NotFound
from engine.identity import service as identity
from engine.identity.models import User
from engine.masterdata.models import Site
from engine.rules.errors import GateError, PackError, clip, echo
from engine.rules.gate import Gate, get_gate
from engine.rules.lifecycle import CaseReport, PackChange, diff_packs, run_cases
from engine.rules.models import RuleGeneration, RulePackActivation, RulePackVersion
from engine.rules.pack import (
    MAX_FILE_BYTES,
    PACK_ID,
    Pack,
    default_rules_root,
    load_pack_text,
    pack_names,
)

MAX_ZIP_MEMBERS = 50
PAST_GRACE = timedelta(minutes=10)
"An effective time this far in the past is taken as 'now' (a form filled a minute ago)."
ACTIVATION_MEANING = "approved"

Actor = User | audit.Actor


# -- the two files of a pack -----------------------------------------------------------------

@dataclass(frozen=True)
class PackFiles:
    """The text of a pack's two files and where they came from (for messages)."""

    pack_text: str
    cases_text: str
    shown: str
    "How messages name the pack: `rules/nmpa`, `upload nmpa.zip`."

    @property
    def sha256(self) -> str:
        return content_sha256(self.pack_text, self.cases_text)


def content_sha256(pack_text: str, cases_text: str) -> str:
    """SHA-256 over both files, verbatim: the identity of an imported version."""
    digest = hashlib.sha256()
    for name, text in (("pack.yaml", pack_text), ("cases.yaml", cases_text)):
        body = text.encode("utf-8")
        digest.update(f"{name}\0{len(body)}\0".encode())
        digest.update(body)
    return digest.hexdigest()


def pack_folder(name_or_path: str | Path, rules_root: Path | None = None) -> Path:
    """A pack name (nmpa, fda, mdr: a folder under rules/) or a folder path."""
    if isinstance(name_or_path, Path) or "/" in name_or_path or "\\" in name_or_path \
            or name_or_path in (".", ".."):
        return Path(name_or_path)
    if not PACK_ID.fullmatch(name_or_path):
        raise PackError(f"{echo(name_or_path)} is not a pack name (lower case letters, digits, - "
                        "and _) nor a folder path.")
    return (rules_root or default_rules_root()) / name_or_path


def read_folder(name_or_path: str | Path, rules_root: Path | None = None) -> PackFiles:
    folder = pack_folder(name_or_path, rules_root)
    shown = f"{folder.parent.name}/{folder.name}" if folder.parent.name else folder.name
    texts = []
    for name in ("pack.yaml", "cases.yaml"):
        path = folder / name
        if not path.is_file():
            raise PackError(f"{shown}/{name}: no such file; a pack is a folder holding "
                            "pack.yaml and cases.yaml.", fields={"file": name})
        if path.stat().st_size > MAX_FILE_BYTES:
            raise PackError(f"{shown}/{name}: larger than {MAX_FILE_BYTES:,} bytes.",
                            fields={"file": name})
        texts.append(_decode(path.read_bytes(), f"{shown}/{name}"))
    return PackFiles(texts[0], texts[1], shown)


def files_from_upload(pack_bytes: bytes, cases_bytes: bytes, shown: str = "upload"
                      ) -> PackFiles:
    """The two files uploaded one by one."""
    for name, body in (("pack.yaml", pack_bytes), ("cases.yaml", cases_bytes)):
        if not body:
            raise PackError(Bilingual(f"{shown}/{name}: the file is missing or empty.",
                                      f"{shown}/{name}：文件缺失或为空。"),
                            fields={"file": name})
        if len(body) > MAX_FILE_BYTES:
            raise PackError(_too_large(f"{shown}/{name}"), fields={"file": name})
    return PackFiles(_decode(pack_bytes, f"{shown}/pack.yaml"),
                     _decode(cases_bytes, f"{shown}/cases.yaml"), shown)


def files_from_zip(data: bytes, filename: str = "upload.zip") -> PackFiles:
    """A zip holding pack.yaml and cases.yaml (at its root or in one folder)."""
    filename = clip(filename)
    shown = f"upload {filename}"
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise PackError(Bilingual(f"{shown}: is not a zip file.", f"{shown}：不是 zip 文件。"),
                        fields={"file": filename}) from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise PackError(Bilingual(f"{shown}: holds {len(members)} files; a pack zip holds "
                                      "pack.yaml and cases.yaml.",
                                      f"{shown}：包含 {len(members)} 个文件；规则包 zip 应只包含 "
                                      "pack.yaml 和 cases.yaml。"), fields={"file": filename})
        found: dict[str, zipfile.ZipInfo] = {}
        for info in members:
            if info.is_dir():
                continue
            name = PurePosixPath(info.filename).name
            if name not in ("pack.yaml", "cases.yaml"):
                continue
            if name in found:
                raise PackError(Bilingual(f"{shown}: holds two files named {name}; keep one "
                                          "pack per zip.",
                                          f"{shown}：包含两个名为 {name} 的文件；每个 zip 只放一个"
                                          "规则包。"), fields={"file": name})
            found[name] = info
        bodies = []
        for name in ("pack.yaml", "cases.yaml"):
            member_info = found.get(name)
            if member_info is None:
                raise PackError(Bilingual(f"{shown}: has no {name}; a pack zip holds pack.yaml "
                                          "and cases.yaml.",
                                          f"{shown}：缺少 {name}；规则包 zip 应包含 pack.yaml 和 "
                                          "cases.yaml。"), fields={"file": name})
            if member_info.file_size > MAX_FILE_BYTES:
                raise PackError(_too_large(f"{shown}/{name}"), fields={"file": name})
            with archive.open(member_info) as member:
                body = member.read(MAX_FILE_BYTES + 1)
            if len(body) > MAX_FILE_BYTES:
                raise PackError(_too_large(f"{shown}/{name}"), fields={"file": name})
            bodies.append(body)
    return files_from_upload(bodies[0], bodies[1], shown)


def _too_large(shown: str) -> Bilingual:
    return Bilingual(f"{shown}: larger than {MAX_FILE_BYTES:,} bytes.",
                     f"{shown}：超过 {MAX_FILE_BYTES:,} 字节。")


def _decode(body: bytes, shown: str) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PackError(Bilingual(f"{shown}: is not UTF-8 text.",
                                  f"{shown}：不是 UTF-8 文本。")) from None


def check_files(files: PackFiles) -> Pack:
    """Validate and compile the pack (refused with file, rule id, field and reason)."""
    pack = load_pack_text(files.pack_text, files.cases_text, shown=files.shown)
    probe = Gate()
    try:
        probe.load(pack)
    except GateError as err:
        raise PackError(f"{files.shown}/pack.yaml: durable-rules cannot compile it: "
                        f"{err.message}") from None
    finally:
        probe.close()
    return pack


# -- compiled packs, cached by content ---------------------------------------------------------

class _PackCache:
    """Packs parsed from stored YAML, by sha256 (a version never changes, so neither does its
    parse); bounded, thread-safe."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[str, Pack] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, sha256: str) -> Pack | None:
        with self._lock:
            found = self._items.get(sha256)
            if found is not None:
                self._items.move_to_end(sha256)
            return found

    def put(self, sha256: str, pack: Pack) -> None:
        with self._lock:
            self._items[sha256] = pack
            while len(self._items) > self._size:
                self._items.popitem(last=False)


PACKS = _PackCache()


def pack_of(row: RulePackVersion) -> Pack:
    """The parsed pack of a stored version."""
    found = PACKS.get(row.sha256)
    if found is None:
        found = load_pack_text(row.pack_yaml, row.cases_yaml, shown=f"{row.pack_id}@{row.version}")
        PACKS.put(row.sha256, found)
    return found


# -- versions --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Imported:
    version: RulePackVersion
    created: bool
    report: CaseReport | None = None


def import_pack(actor: Actor, files: PackFiles) -> Imported:
    """Store a pack as a new version; the same content again is a no-op (idempotent by sha256).

    Refused (PackError naming file, rule and field) when the pack is invalid; refused
    (Conflict) when its id and version are taken by different content.
    """
    if isinstance(actor, User):
        identity.require(actor, "rules.import")
    digest = files.sha256
    existing = db.session.scalar(select(RulePackVersion).where(RulePackVersion.sha256 == digest))
    if existing is not None:
        return Imported(existing, created=False)
    pack = check_files(files)
    taken = find_version(pack.id, pack.version)
    if taken is not None:
        raise Conflict(f"{files.shown}: {pack.id} {pack.version} is already imported with "
                       "different content; give the changed pack a new version number.",
                       zh=f"{files.shown}：{pack.id} {pack.version} 已以不同内容导入；"
                          "修改后的规则包请使用新的版本号。",
                       fields={"version": "already imported"})
    report = run_cases(pack)
    row = RulePackVersion(
        pack_id=pack.id, region=pack.region, version=pack.version, title=pack.title,
        effective_date=pack.effective_date, pack_yaml=files.pack_text,
        cases_yaml=files.cases_text, sha256=digest, rules_digest=pack.digest,
        rule_count=len(pack.rules), case_count=len(pack.cases), source=files.shown[:200],
        imported_by=actor.id, imported_by_name=_name(actor),
        status="passed" if report.ok else "failed",
        cases_passed=len(report.results) - len(report.failed), cases_run_at=utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    PACKS.put(digest, pack)
    audit.record(actor, "rules.import", "rule_pack_version", row.id,
                 after={**row.audit_values(), "cases_passed": row.cases_passed,
                        "cases_failed": [r.name for r in report.failed]})
    return Imported(row, created=True, report=report)


def import_folder(actor: Actor, name_or_path: str | Path, rules_root: Path | None = None
                  ) -> Imported:
    return import_pack(actor, read_folder(name_or_path, rules_root))


def import_shipped(actor: Actor, rules_root: Path | None = None) -> list[str]:
    """Import every shipped pack (`gxpflow init`); one line each, a refusal does not stop the
    others."""
    root = rules_root or default_rules_root()
    lines = []
    for name in pack_names(root):
        try:
            done = import_folder(actor, name, root)  # refused before it writes anything
        except (PackError, Conflict) as refused:
            lines.append(f"{name}: REFUSED {refused.message}")
            continue
        row = done.version
        state = "imported" if done.created else "already imported"
        lines.append(f"{row.pack_id} {row.version}: {state} ({row.rule_count} rules, "
                     f"{row.case_count} cases, {row.status})")
    return lines


def find_version(pack_id: str, version: str) -> RulePackVersion | None:
    return db.session.scalar(select(RulePackVersion).where(
        RulePackVersion.pack_id == pack_id, RulePackVersion.version == version))


def get_version(version_id: int) -> RulePackVersion:
    row = db.session.get(RulePackVersion, version_id)
    if row is None:
        raise NotFound(f"Rule pack version {version_id} does not exist.",
                       zh=f"规则包版本 {version_id} 不存在。")
    return row


def version_by_label(label: str) -> RulePackVersion:
    """`nmpa@2024.7.0` -> that stored version."""
    pack_id, _, version = label.partition("@")
    row = find_version(pack_id.strip(), version.strip())
    if row is None:
        raise NotFound(f"No stored version {echo(label)}; `gxpflow rules list` shows them.")
    return row


def versions(pack_id: str | None = None) -> list[RulePackVersion]:
    query = select(RulePackVersion).order_by(RulePackVersion.pack_id,
                                             RulePackVersion.imported_at.desc(),
                                             RulePackVersion.id.desc())
    if pack_id:
        query = query.where(RulePackVersion.pack_id == pack_id)
    return list(db.session.scalars(query))


def latest_version(pack_id: str) -> RulePackVersion | None:
    found = versions(pack_id)
    return found[0] if found else None


def run_version_cases(actor: Actor, row: RulePackVersion) -> CaseReport:
    """Run every case of a stored version; its status records the result."""
    if isinstance(actor, User):
        identity.require(actor, "rules.test")
    report = run_cases(pack_of(row))
    row.status = "passed" if report.ok else "failed"
    row.cases_passed = len(report.results) - len(report.failed)
    row.cases_run_at = utcnow()
    db.session.flush()
    audit.record(actor, "rules.cases", "rule_pack_version", row.id,
                 after={"pack": row.pack_id, "version": row.version, "ok": report.ok,
                        "passed": row.cases_passed, "cases": len(report.results),
                        "failed": [result.name for result in report.failed]})
    return report


def diff_versions(old: RulePackVersion, new: RulePackVersion) -> list[PackChange]:
    return diff_packs(pack_of(old), pack_of(new))


# -- activation ------------------------------------------------------------------------------

def _name(actor: Actor) -> str:
    return actor.full_name if isinstance(actor, User) else actor.name


def _site(site: Site | str) -> Site:
    if isinstance(site, Site):
        return site
    found = db.session.scalar(select(Site).where(Site.code == site.strip()))
    if found is None:
        raise NotFound(f"No site with code {echo(site)}.", zh=f"没有编码为 {echo(site)} 的仓库。",
                       fields={"site": "unknown site"})
    return found


def signed_content(row: RulePackVersion, site: Site, effective_at: datetime,
                   deactivated: bool = False) -> dict[str, Any]:
    """What an activation signature is bound to."""
    return {"action": "deactivate" if deactivated else "activate", "pack": row.pack_id,
            "version": row.version, "sha256": row.sha256, "site": site.code,
            "effective_at": effective_at.astimezone(UTC).isoformat()}


def _effective(effective_at: datetime | None) -> datetime:
    now = utcnow()
    if effective_at is None:
        return now
    if effective_at.tzinfo is None or effective_at.utcoffset() is None:
        raise InvalidInput("The effective time needs a time zone.",
                           fields={"effective_at": "give the time zone"})
    if effective_at < now - PAST_GRACE:
        raise InvalidInput("The effective time is in the past; an activation takes effect now "
                           "or later.", fields={"effective_at": "in the past"})
    return max(effective_at, now)


def current_activation(site: Site, pack_id: str, at: datetime | None = None
                       ) -> RulePackActivation | None:
    """The row in effect for this pack at this site (None: never activated)."""
    moment = at or utcnow()
    return db.session.scalar(
        select(RulePackActivation)
        .where(RulePackActivation.site_id == site.id, RulePackActivation.pack_id == pack_id,
               RulePackActivation.effective_at <= moment)
        .order_by(RulePackActivation.effective_at.desc(), RulePackActivation.id.desc())
        .limit(1))


def activate(actor: User, row: RulePackVersion, site: Site | str, *, password: str,
             username: str | None = None, effective_at: datetime | None = None,
             reason: str = "", first_in_session: bool = True) -> RulePackActivation:
    """Activate a version for a site from `effective_at` (default now), signed "approved".

    Refused while any case fails, for a site of another region, without a reason, or when that
    version is already the one in effect. A later activation of the same pack supersedes this one.
    """
    identity.require(actor, "rules.activate")
    target = _site(site)
    when = _effective(effective_at)
    _check_activation(row, target, when)
    report = run_version_cases(actor, row)
    if not report.ok:
        failed = ", ".join(result.name for result in report.failed) or "the pack has no cases"
        raise InvalidInput(
            f"Activation refused: {len(report.failed)} of {len(report.results)} cases of "
            f"{row.label} fail ({failed}). Fix the pack and import it as a new version.",
            zh=f"拒绝启用：{row.label} 的 {len(report.results)} 个测试用例中有 "
               f"{len(report.failed)} 个未通过"
               f"（{failed if report.failed else '规则包没有测试用例'}）。"
               "请修正规则包并作为新版本导入。",
            fields={"cases": failed})
    if not reason.strip():
        raise InvalidInput("Say why this version is activated.",
                           zh="请说明启用此版本的原因。",
                           fields={"reason": "A reason is required."})
    signature = signatures.sign(actor, password, ACTIVATION_MEANING, "rule_pack_version",
                                row.id, signed_content(row, target, when),
                                username=username, first_in_session=first_in_session)
    return _record_activation(actor, row, target, when, reason, signature.id)


def activate_for_demo(row: RulePackVersion, site: Site | str) -> RulePackActivation | None:
    """Demo data only (`gxpflow demo`): the system activates a passing version without a
    signature, noted as such in the row and the audit trail. No-op once the site has any
    activation of this pack (a signed one is never overridden by the demo)."""
    target = _site(site)
    if db.session.scalar(select(RulePackActivation.id).where(
            RulePackActivation.site_id == target.id,
            RulePackActivation.pack_id == row.pack_id).limit(1)) is not None:
        return None
    report = run_cases(pack_of(row))
    if not report.ok:
        raise InvalidInput(f"{row.label}: cases fail; the demo does not activate it.")
    return _record_activation(audit.SYSTEM, row, target, utcnow(),
                              "demo data: activated by the system without an e-signature "
                              "(never do this outside a demonstration)", None)


def deactivate(actor: User, pack_id: str, site: Site | str, *, password: str,
               username: str | None = None, effective_at: datetime | None = None,
               reason: str, first_in_session: bool = True) -> RulePackActivation:
    """Switch a pack off for a site (signed); the site then runs without it."""
    identity.require(actor, "rules.activate")
    if not reason.strip():
        raise InvalidInput("Say why the pack is switched off.",
                           fields={"reason": "A reason is required."})
    target = _site(site)
    when = _effective(effective_at)
    current = current_activation(target, pack_id, when)
    if current is None or current.deactivated:
        raise Conflict(f"{pack_id} is not active at {target.code}.",
                       zh=f"{pack_id} 未在 {target.code} 启用。")
    row = current.pack_version
    signature = signatures.sign(actor, password, ACTIVATION_MEANING, "rule_pack_version",
                                row.id, signed_content(row, target, when, deactivated=True),
                                username=username, first_in_session=first_in_session)
    return _record_activation(actor, row, target, when, reason, signature.id, deactivated=True)


def _check_activation(row: RulePackVersion, site: Site, when: datetime) -> None:
    if not site.active:
        raise InvalidInput(f"Site {site.code} is inactive.", zh=f"仓库 {site.code} 已停用。",
                           fields={"site": "inactive"})
    if row.region != site.region:
        raise InvalidInput(
            f"{row.label} is a pack for region {row.region}; site {site.code} is in region "
            f"{site.region}.",
            zh=f"{row.label} 是 {row.region} 地区的规则包；仓库 {site.code} 位于 "
               f"{site.region} 地区。",
            fields={"site": f"choose a site in region {row.region}"})
    current = current_activation(site, row.pack_id, when)
    if current is not None and not current.deactivated and current.pack_version_id == row.id:
        raise Conflict(f"{row.label} is already active at {site.code}.",
                       zh=f"{row.label} 已在 {site.code} 生效。")


def _record_activation(actor: Actor, row: RulePackVersion, site: Site, when: datetime,
                       reason: str, signature_id: int | None, deactivated: bool = False
                       ) -> RulePackActivation:
    generation = bump_generation()  # first: on PostgreSQL it serialises activations
    before = current_activation(site, row.pack_id, when)
    activation = RulePackActivation(
        pack_id=row.pack_id, pack_version_id=row.id, site_id=site.id, effective_at=when,
        deactivated=deactivated, activated_by=actor.id, activated_by_name=_name(actor),
        signature_id=signature_id, reason=reason.strip(),
    )
    db.session.add(activation)
    db.session.flush()
    previous = None
    if before is not None and not before.deactivated:
        previous = {"version": before.pack_version.version, "activation": before.id}
    audit.record(actor, "rules.deactivate" if deactivated else "rules.activate",
                 "rule_pack_version", row.id,
                 before={"active": previous},
                 after={"pack": row.pack_id, "version": row.version, "sha256": row.sha256,
                        "site": site.code, "effective_at": when.isoformat(),
                        "activation": activation.id, "signature_id": signature_id,
                        "signed_by": _name(actor) if signature_id else None,
                        "generation": generation},
                 reason=reason.strip())
    return activation


def activations(site: Site | str | None = None) -> list[RulePackActivation]:
    query = select(RulePackActivation).order_by(RulePackActivation.effective_at.desc(),
                                                RulePackActivation.id.desc())
    if site is not None:
        query = query.where(RulePackActivation.site_id == _site(site).id)
    return list(db.session.scalars(query))


def active_versions(site: Site | str, at: datetime | None = None) -> list[RulePackVersion]:
    """The version of each pack in effect at the site at that moment, by pack id."""
    target = _site(site)
    moment = at or utcnow()
    rows = db.session.scalars(
        select(RulePackActivation)
        .where(RulePackActivation.site_id == target.id,
               RulePackActivation.effective_at <= moment)
        .order_by(RulePackActivation.effective_at, RulePackActivation.id))
    latest: dict[str, RulePackActivation] = {}
    for activation in rows:
        latest[activation.pack_id] = activation
    return [activation.pack_version for _, activation in sorted(latest.items())
            if not activation.deactivated]


# -- the generation counter and each process's view of the active packs ------------------------

def bump_generation() -> int:
    """Count one more change of the active packs (every process reloads on its next check)."""
    result = db.session.execute(
        update(RuleGeneration).where(RuleGeneration.id == 1)
        .values(generation=RuleGeneration.generation + 1, token=uuid.uuid4().hex,
                changed_at=utcnow())
        .returning(RuleGeneration.generation))
    value = result.scalar()
    if value is None:
        db.session.add(RuleGeneration(id=1, generation=1, token=uuid.uuid4().hex,
                                      changed_at=utcnow()))
        db.session.flush()
        value = 1
    return int(value)


def generation_stamp() -> tuple[int, str]:
    """The counter and its token (the token tells a reset database from an old count)."""
    row = db.session.execute(select(RuleGeneration.generation, RuleGeneration.token)
                             .where(RuleGeneration.id == 1)).first()
    return (int(row[0]), str(row[1])) if row is not None else (0, "")


@dataclass(frozen=True)
class ActivePack:
    """One pack in effect at a site: the stored version and its compiled pack."""

    version_id: int
    sha256: str
    pack: Pack


@dataclass
class _Snapshot:
    stamp: tuple[int, str]
    taken_at: datetime
    valid_until: datetime | None
    by_site: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    "site code -> (version id, sha256) of each pack in effect, by pack id."


class ActivePacks:
    """A process's view of which pack versions are in effect at each site.

    `for_site()` reads the generation counter (one small query) and reloads the activation
    table only when the counter moved or a scheduled activation came into effect. Parsed
    packs are cached by sha256; the gate's host keeps compiled rulesets by pack version.
    """

    def __init__(self, gate: Gate | None = None) -> None:
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._gate = gate
        self.reloads = 0

    @property
    def gate(self) -> Gate:
        return self._gate or get_gate()

    def reset(self) -> None:
        with self._lock:
            self._snapshot = None

    def for_site(self, site_code: str, now: datetime | None = None) -> list[ActivePack]:
        moment = now or utcnow()
        stamp = generation_stamp()
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None or snapshot.stamp != stamp or moment < snapshot.taken_at or (
                    snapshot.valid_until is not None and moment >= snapshot.valid_until):
                snapshot = self._load(stamp, moment)
                self._snapshot = snapshot
            entries = list(snapshot.by_site.get(site_code, ()))
        return [ActivePack(version_id, sha, self._pack(version_id, sha))
                for version_id, sha in entries]

    def _load(self, stamp: tuple[int, str], moment: datetime) -> _Snapshot:
        rows = db.session.execute(
            select(Site.code, RulePackActivation.pack_id, RulePackActivation.effective_at,
                   RulePackActivation.deactivated, RulePackVersion.id, RulePackVersion.sha256)
            .join(Site, Site.id == RulePackActivation.site_id)
            .join(RulePackVersion, RulePackVersion.id == RulePackActivation.pack_version_id)
            .order_by(RulePackActivation.effective_at, RulePackActivation.id)
        ).all()
        latest: dict[tuple[str, str], tuple[bool, int, str]] = {}
        upcoming: datetime | None = None
        for code, pack_id, effective_at, deactivated, version_id, sha in rows:
            if effective_at <= moment:
                latest[(code, pack_id)] = (deactivated, version_id, sha)
            elif upcoming is None or effective_at < upcoming:
                upcoming = effective_at
        by_site: dict[str, list[tuple[int, str]]] = {}
        for (code, _pack_id), (deactivated, version_id, sha) in sorted(latest.items()):
            if not deactivated:
                by_site.setdefault(code, []).append((version_id, sha))
        self.reloads += 1
        self._unload_stale({sha for entries in by_site.values() for _, sha in entries})
        return _Snapshot(stamp=stamp, taken_at=moment, valid_until=upcoming, by_site=by_site)

    def _unload_stale(self, keep: set[str]) -> None:
        """Free the host's rulesets of versions no longer in effect anywhere (only those this
        view put there: case runs use their own gates)."""
        wanted = {(pack.id, pack.version) for sha in keep if (pack := PACKS.get(sha))}
        previous = self._snapshot
        if previous is None:
            return
        for entries in previous.by_site.values():
            for _, sha in entries:
                pack = PACKS.get(sha)
                if pack is not None and (pack.id, pack.version) not in wanted:
                    self.gate.unload(pack.id, pack.version)

    def _pack(self, version_id: int, sha: str) -> Pack:
        found = PACKS.get(sha)
        if found is not None:
            return found
        return pack_of(get_version(version_id))


def summary(rows: Iterable[RulePackVersion]) -> list[dict[str, Any]]:
    return [{"id": row.pack_id, "version": row.version, "sha256": row.sha256, "row": row.id}
            for row in rows]


def labels(packs: Sequence[ActivePack]) -> list[str]:
    return [pack.pack.label for pack in packs]
