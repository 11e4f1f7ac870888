"""Audit-verify benchmark: append N events to the audit trail, then time `engine.audit.verify()`.

    GXPFLOW_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/bench_audit \\
        .venv/bin/python bench/bench_audit_verify.py [--events 200000] [--batch 5000] [--runs 3] \\
        [--reuse]

The database is the configured one (GXPFLOW_DATABASE_URL); without it, a scratch SQLite file in
a temporary folder. It is migrated to head, and must hold no audit events yet: point it at a
scratch database (createdb ... / dropdb ...), never at a real trail. Events are appended through
`engine.audit.record()` and committed in batches, exactly as the services write them; the
timed part is the engine's own `verify()`, the code behind `gxpflow audit verify` and the
audit page's verify button. The target is at least 200,000 events verified per second on
PostgreSQL. Each run also prints the CPU time of this process and (for a local PostgreSQL) of the
database backend that served it, and the load average: on a busy shared machine the wall-clock
figure says more about the neighbours than about verify.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text

from engine import audit
from engine.audit import AuditEvent
from engine.db import db


def log(message: str) -> None:
    print(message, flush=True)


def append(events: int, batch: int) -> float:
    """Append `events` events, varied like real ones; returns the seconds it took."""
    actors = [audit.Actor(i, f"User {i} 用户") for i in range(1, 21)] + [audit.SYSTEM]
    started = time.perf_counter()
    for n in range(events):
        audit.record(
            actors[n % len(actors)], ("lot.receive", "lot.inspect", "movement.post",
                                      "user.update")[n % 4],
            ("lot", "movement", "user")[n % 3], n,
            before={"status": "quarantine", "qty": n % 500} if n % 4 == 3 else None,
            after={"status": "available", "qty": n % 500, "lot": f"L{n:07d}", "名称": "导管"},
            reason="recount after damage" if n % 4 == 3 else "",
        )
        if (n + 1) % batch == 0:
            db.session.commit()
    db.session.commit()
    return time.perf_counter() - started


def _backend_pid() -> int | None:
    """The PostgreSQL backend serving this session, when it runs on this machine."""
    if db.engine.dialect.name != "postgresql":
        return None
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return pid if os.path.exists(f"/proc/{pid}/stat") else None


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a local process (0 when unknown)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events to append")
    parser.add_argument("--batch", type=int, default=5000, help="events per commit")
    parser.add_argument("--runs", type=int, default=3, help="timed verify runs (best is kept)")
    parser.add_argument("--reuse", action="store_true",
                        help="verify the events a previous run left instead of appending")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from web import create_app, settings_of

    with tempfile.TemporaryDirectory() as scratch:
        overrides: dict[str, object] = {"mode": "testing", "instance_path": scratch}
        if not os.environ.get("GXPFLOW_DATABASE_URL"):
            log("GXPFLOW_DATABASE_URL is not set: using a scratch SQLite file")
        app = create_app(overrides)
        with app.app_context():
            from engine.config import mask_url

            log(f"database: {mask_url(settings_of(app).database_url)} "
                f"({db.engine.dialect.name})")
            upgrade()
            existing = db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0
            if args.reuse and existing:
                args.events = existing
                log(f"verifying the {existing:,} events already there")
            elif existing:
                log(f"refusing: the database already holds {existing} audit events; "
                    "point GXPFLOW_DATABASE_URL at an empty scratch database")
                return 2
            else:
                seconds = append(args.events, args.batch)
                log(f"appended {args.events:,} events in {seconds:.1f} s "
                    f"({args.events / seconds:,.0f} events/s, {args.batch} per commit)")
            db.session.remove()
            best = None
            for run in range(1, args.runs + 1):
                server = _backend_pid()
                server_cpu = _cpu_seconds(server)
                cpu = time.process_time()
                started = time.perf_counter()
                result = audit.verify()
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu
                server_cpu = _cpu_seconds(server) - server_cpu
                db.session.remove()
                log(f"verify run {run}: {result.summary()} in {elapsed:.3f} s "
                    f"({result.checked / elapsed:,.0f} events/s; CPU: this process "
                    f"{cpu:.2f} s" + (f", database backend {server_cpu:.2f} s" if server else "")
                    + f"; load average {os.getloadavg()[0]:.1f})")
                if not result.ok or result.checked != args.events:
                    log("the chain did not verify: the benchmark is void")
                    return 1
                best = elapsed if best is None else min(best, elapsed)
            assert best is not None
            if db.engine.dialect.name == "postgresql":
                # The event-by-event walk every database can run (SQLite's path, and verify as
                # it was before the PostgreSQL batches), timed alongside for a ratio that the
                # machine's load does not distort much.
                started = time.perf_counter()
                walk = audit._Walk()
                assert walk.check(audit._rows()) is None and walk.checked == args.events
                plain = time.perf_counter() - started
                db.session.remove()
                log(f"event-by-event walk: {plain:.3f} s ({args.events / plain:,.0f} events/s); "
                    f"the batched verify is {plain / best:.1f}x faster")
            log(f"verify: {args.events / best:,.0f} events/s (best of {args.runs}; "
                f"target >= 200,000 on PostgreSQL)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
