"""Gate evaluation time per step for each shipped pack, and memory over 100,000 evaluations.

Run from the project root: `.venv/bin/python bench/bench_gate.py [--runs N] [--db BACKEND]`.
Prints figures and ratios to the targets (median under 0.3 ms per evaluation per step; RSS
growth under 5 % between 1,000 and 100,000 evaluations); it asserts nothing, since shared
machines are noisy.

`--db sqlite` (default) or `--db postgresql` also times what a workflow step pays in a running
app: `RulesGate.check` = the generation-counter query (are the active packs still the ones
cached?) + fact building + evaluation of the packs active at the site + the audit record,
on a fresh database with the shipped packs activated per region (`--db none` skips it;
PostgreSQL from GXPFLOW_BENCH_PG_URL or GXPFLOW_TEST_PG_URL).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import platform
import resource
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.rules.gate import Gate
from engine.rules.pack import Case, Pack, load_packs

TARGET_MS = 0.3
TARGET_GROWTH = 5.0


def rss_kib() -> int:
    """Resident set size now (Linux /proc), else the peak from getrusage."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def time_step(gate: Gate, pack: Pack, step: str, cases: list[Case], runs: int
              ) -> tuple[float, float, float]:
    """Median and p95 of Gate.evaluate in ms, and the mean number of verdicts."""
    facts = itertools.cycle([case.fact for case in cases])
    for _ in range(50):
        gate.evaluate(step, next(facts), [pack])
    times: list[float] = []
    verdicts = 0
    for _ in range(runs):
        fact = next(facts)
        start = time.perf_counter()
        decision = gate.evaluate(step, fact, [pack])
        times.append((time.perf_counter() - start) * 1000)
        verdicts += len(decision.verdicts)
    return statistics.median(times), percentile(times, 0.95), verdicts / runs


def bench_steps(gate: Gate, packs: list[Pack], runs: int) -> None:
    print(f"Gate.evaluate per step, one pack, facts cycled from the pack's cases ({runs} runs)")
    print(f"{'pack':6} {'step':24} {'rules':>5} {'hits':>5} {'median ms':>10} {'p95 ms':>8} "
          f"{'median/target':>14}")
    worst = 0.0
    for pack in packs:
        for step in pack.steps:
            cases = [case for case in pack.cases if case.step == step]
            median, p95, hits = time_step(gate, pack, step, cases, runs)
            worst = max(worst, median)
            print(f"{pack.id:6} {step:24} {len(pack.rules_for(step)):5d} {hits:5.1f} "
                  f"{median:10.3f} {p95:8.3f} {median / TARGET_MS:13.2f}x")
    print(f"slowest median {worst:.3f} ms = {worst / TARGET_MS:.2f} x the {TARGET_MS} ms target")
    merged = [(case.step, case.fact) for pack in packs for case in pack.cases]
    times = []
    for step, fact in itertools.islice(itertools.cycle(merged), runs):
        start = time.perf_counter()
        gate.evaluate(step, fact, packs)
        times.append((time.perf_counter() - start) * 1000)
    print(f"all {len(packs)} packs at once (one site running every pack): median "
          f"{statistics.median(times):.3f} ms, p95 {percentile(times, 0.95):.3f} ms")


def bench_memory(gate: Gate, packs: list[Pack], total: int) -> None:
    work = itertools.cycle([(pack, case.step, case.fact) for pack in packs
                            for case in pack.cases])
    print()
    print(f"Memory over {total:,} evaluations (every case of every pack, in turn)")
    start = time.perf_counter()
    after_1000 = 0
    for count in range(1, total + 1):
        pack, step, fact = next(work)
        gate.evaluate(step, fact, [pack])
        if count == 1000:
            after_1000 = rss_kib()
            print(f"RSS after {count:>7,}: {after_1000 / 1024:8.1f} MiB")
    after_all = rss_kib()
    growth = (after_all - after_1000) / after_1000 * 100
    elapsed = time.perf_counter() - start
    print(f"RSS after {total:>7,}: {after_all / 1024:8.1f} MiB")
    print(f"growth {growth:+.2f} % (target under {TARGET_GROWTH} %: "
          f"{growth / TARGET_GROWTH:.2f} x); {total / elapsed:,.0f} evaluations/s")


SITES = (("SH", "Shanghai", "CN", "Asia/Shanghai", "nmpa"),
         ("CHI", "Chicago", "US", "America/Chicago", "fda"),
         ("RTM", "Rotterdam", "EU", "Europe/Amsterdam", "mdr"))


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench-gate.db"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    admin_url = make_url(os.environ.get("GXPFLOW_BENCH_PG_URL") or os.environ.get(
        "GXPFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    name = f"gxpflow_bench_{secrets.token_hex(4)}"

    def admin() -> Any:
        return psycopg.connect(host=admin_url.host, port=admin_url.port or 5432,
                               user=admin_url.username, password=admin_url.password,
                               dbname=admin_url.database, autocommit=True)

    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(drivername="postgresql+psycopg", database=name) \
            .render_as_string(hide_password=False)
    finally:
        with admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_app_gate(packs: list[Pack], runs: int, backend: str) -> None:
    """RulesGate.check as the runtime calls it, with the per-evaluation reload check."""
    from flask_migrate import upgrade

    from engine import audit
    from engine.db import db
    from engine.masterdata import service as md
    from engine.rules import store
    from engine.rules.workflow_gate import RulesGate
    from web import create_app

    print()
    print(f"RulesGate.check in the app on {backend}: generation check + fact + evaluation of "
          f"the site's active pack + audit record ({runs} runs per step)")
    with database(backend) as url, tempfile.TemporaryDirectory() as instance:
        app = create_app({"mode": "testing", "database_url": url, "instance_path": instance})
        with app.app_context():
            upgrade()
            for code, name, region, zone, _pack in SITES:
                md.create_site(audit.SYSTEM, code, name, region, zone)
            store.import_shipped(audit.SYSTEM)
            for code, *_rest, pack_id in SITES:
                row = store.latest_version(pack_id)
                assert row is not None
                store.activate_for_demo(row, code)
            db.session.commit()
            private = Gate()
            rules_gate = RulesGate(gate=private)
            actor = SimpleNamespace(id=None, full_name="bench")
            checks = []
            for _ in range(runs):
                start = time.perf_counter()
                store.generation_stamp()
                checks.append((time.perf_counter() - start) * 1000)
            print(f"generation check alone: median {statistics.median(checks):.3f} ms, "
                  f"p95 {percentile(checks, 0.95):.3f} ms")
            print(f"{'pack':6} {'step':24} {'median ms':>10} {'p95 ms':>8} {'evals/s':>9}")
            all_times: list[float] = []
            sites = {pack_id: code for code, *_rest, pack_id in SITES}
            for pack in packs:
                instance_row = SimpleNamespace(id=1, site_code=sites.get(pack.id, ""))
                for step in pack.steps:
                    facts = itertools.cycle([dict(case.fact) for case in pack.cases
                                             if case.step == step])
                    times: list[float] = []
                    for count in range(runs + 50):
                        context: Any = SimpleNamespace(
                            instance=instance_row, task=SimpleNamespace(id="t", data={}),
                            meta=SimpleNamespace(step=step), actor=actor,
                            form=next(facts), performers={})
                        start = time.perf_counter()
                        rules_gate.check(context)
                        elapsed = (time.perf_counter() - start) * 1000
                        if count >= 50:
                            times.append(elapsed)
                        if count % 200 == 0:
                            db.session.rollback()  # drop queued audit events (not timed)
                    db.session.rollback()
                    all_times += times
                    median = statistics.median(times)
                    print(f"{pack.id:6} {step:24} {median:10.3f} "
                          f"{percentile(times, 0.95):8.3f} {1000 / median:9,.0f}")
            print(f"all steps: median {statistics.median(all_times):.3f} ms, p95 "
                  f"{percentile(all_times, 0.95):.3f} ms, "
                  f"{len(all_times) / (sum(all_times) / 1000):,.0f} evaluations/s "
                  f"(reloads of the active packs: {rules_gate.active.reloads})")
            private.close()
            db.session.remove()
        with app.app_context():
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000, help="timed runs per step")
    parser.add_argument("--total", type=int, default=100_000, help="evaluations for memory")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "none"), default="sqlite",
                        help="database for the in-app RulesGate timing")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.platform()}, "
          f"{os.cpu_count()} CPUs")
    packs = load_packs()
    gate = Gate()
    try:
        bench_steps(gate, packs, args.runs)
        bench_memory(gate, packs, args.total)
    finally:
        gate.close()
    if args.db != "none":
        bench_app_gate(packs, args.runs, args.db)


if __name__ == "__main__":
    main()
