"""Inbox queries on PostgreSQL with 1,000,000 human-task rows, 50,000 of them open.

    .venv/bin/python bench/bench_inbox.py [--rows 1000000] [--open 50000] [--samples 300]

Creates a scratch database (dropped afterwards), migrates it, COPYs instances and human tasks
(8 roles, 2,000 users, a third of open tasks claimed, some overdue), ANALYZEs, then times the
engine's own inbox queries (engine.workflow.inbox) for random users: the first page (25 rows)
of "my tasks", "unclaimed for my roles" and "overdue", both as `inbox_query` + ORDER BY + LIMIT
(what web/inbox's paginate runs) and as `inbox.page()` (each part read in order and cut, merged
with UNION ALL), and the capped tab counts. Prints p50 / p95 (target p95 < 20 ms) and the plan
of the slowest `inbox_query`; asserts nothing.
Settings: GXPFLOW_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from engine.db import db
from engine.workflow import inbox
from web import create_app

ADMIN_URL = os.environ.get("GXPFLOW_BENCH_PG_URL") or os.environ.get(
    "GXPFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ROLES = ("receiving_clerk", "inspector", "warehouse_operator", "quality_manager",
         "compliance_officer", "process_owner", "administrator", "auditor")
STEPS = ("receiving.inspect", "receiving.putaway", "release.approve", "recall.notify",
         "ship.pick", "count.approve")
USERS = 2000
TASKS_PER_INSTANCE = 4
PAGE = 25


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def admin() -> psycopg.Connection:
    url = make_url(ADMIN_URL)
    return psycopg.connect(host=url.host, port=url.port or 5432, user=url.username,
                           password=url.password, dbname=url.database, autocommit=True)


def load(rows: int, open_rows: int, url: str) -> None:
    """COPY users, one definition, instances and human tasks straight into the tables."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    start = now - timedelta(days=3 * 365)
    target = make_url(url)
    with psycopg.connect(host=target.host, port=target.port or 5432, user=target.username,
                         password=target.password, dbname=target.database) as conn:
        cur = conn.cursor()
        with cur.copy("COPY user_account (id, username, full_name, password_hash, "
                      "password_changed_at, must_change_password, failed_attempts, active, "
                      "totp_enabled, recovery_codes, email, created_at) FROM STDIN") as copy:
            for i in range(1, USERS + 1):
                copy.write_row((i, f"u{i}", f"User {i}", "x", now, False, 0, True, False,
                                "[]", "", now))
        cur.execute("INSERT INTO process_definition (id, key, version, name, filename, bpmn_xml,"
                    " sha256, status, deployed_at, note) VALUES (1, 'receiving', 1, 'R', 'r',"
                    " '<x/>', 'x', 'active', now(), '')")
        instances = rows // TASKS_PER_INSTANCE
        with cur.copy("COPY process_instance (id, definition_id, process_key, subject, status,"
                      " serialized, serializer_version, revision, started_at, updated_at, error,"
                      " status_reason) FROM STDIN") as copy:
            for i in range(1, instances + 1):
                at = start + timedelta(seconds=i * (3 * 365 * 86400 // instances))
                copy.write_row((i, 1, "receiving", f"PO-{i:07d}", "completed", "{}", "1.4", 1,
                                at, at, "", ""))
        open_ids = set(rng.sample(range(1, rows + 1), open_rows))
        buffer = io.StringIO()
        with cur.copy("COPY human_task (id, instance_id, task_guid, task_name, title, step, "
                      "role, subject, assignee_id, status, due_at, created_at, completed_at, "
                      "completed_by) FROM STDIN") as copy:
            for i in range(1, rows + 1):
                instance = (i - 1) // TASKS_PER_INSTANCE + 1
                created = start + timedelta(seconds=i * (3 * 365 * 86400 // rows))
                role = ROLES[rng.randrange(len(ROLES))]
                if i in open_ids:
                    created = now - timedelta(hours=rng.uniform(0, 24 * 30))
                    assignee = rng.randrange(1, USERS + 1) if rng.random() < 0.33 else None
                    due = created + timedelta(hours=rng.choice((24, 48, 72)))
                    row = (i, instance, secrets.token_hex(16), "Task", "Inspect goods",
                           rng.choice(STEPS), role, f"PO-{instance:07d}", assignee, "open",
                           due, created, None, None)
                else:
                    done_by = rng.randrange(1, USERS + 1)
                    row = (i, instance, secrets.token_hex(16), "Task", "Inspect goods",
                           rng.choice(STEPS), role, f"PO-{instance:07d}", done_by,
                           "completed", None, created, created + timedelta(hours=2), done_by)
                copy.write_row(row)
        del buffer
        cur.execute("ANALYZE")
        conn.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    name = f"gxpflow_bench_{secrets.token_hex(4)}"
    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=name) \
        .render_as_string(hide_password=False)
    try:
        app = create_app({"mode": "testing", "database_url": url, "broker_url": ""})
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            db.session.commit()
        began = time.perf_counter()
        load(args.rows, args.open, url)
        print(f"loaded {args.rows:,} human tasks ({args.open:,} open) in "
              f"{time.perf_counter() - began:.0f} s")
        rng = random.Random(11)
        with app.app_context():
            results: dict[str, list[float]] = {}
            slowest: tuple[float, str] = (0.0, "")
            for _ in range(args.samples):
                user = rng.randrange(1, USERS + 1)
                roles = rng.sample(ROLES, rng.choice((1, 1, 2)))
                for view, sort in (("mine", "created"), ("unclaimed", "created"),
                                   ("overdue", "due")):
                    query = inbox.inbox_query(user, roles, view).order_by(
                        inbox.SORTABLE[sort].asc()).limit(PAGE)
                    t0 = time.perf_counter()
                    db.session.execute(query).scalars().all()
                    ms = (time.perf_counter() - t0) * 1000
                    results.setdefault(f"{view:9} first page, inbox_query", []).append(ms)
                    if ms > slowest[0]:
                        slowest = (ms, str(query.compile(compile_kwargs={"literal_binds": True})))
                    t0 = time.perf_counter()
                    inbox.page(user, roles, view, sort=sort, limit=PAGE)
                    results.setdefault(f"{view:9} first page, page()     ", []).append(
                        (time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                inbox.counts(user, roles)
                results.setdefault("tab counts (3, capped at 1000)  ", []).append(
                    (time.perf_counter() - t0) * 1000)
                db.session.rollback()
            print(f"inbox queries on PostgreSQL, {args.samples} random users (1-2 roles each)")
            for label, times in results.items():
                print(f"  {label:40}  p50 {statistics.median(times):6.2f} ms   "
                      f"p95 {percentile(times, 0.95):6.2f} ms   max {max(times):6.2f} ms")
            for kind in ("inbox_query", "page()"):
                worst = max(percentile(t, 0.95) for k, t in results.items() if kind in k)
                print(f"  worst first-page p95 with {kind}: {worst:.2f} ms = "
                      f"{worst / 20:.2f} of the 20 ms target")
            plan = db.session.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + slowest[1])).all()
            print(f"slowest query ({slowest[0]:.1f} ms) plan now:")
            for (line,) in plan:
                print("   ", line)
    finally:
        with admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
