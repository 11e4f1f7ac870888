"""Receiving over HTTP, as staff drive it: on PostgreSQL, with the rule packs' gate, the ledger
and the audit trail on, served by gunicorn with two web workers (development mode, so the session
cookie is not marked Secure on plain http://127.0.0.1).

    .venv/bin/python bench/bench_receiving.py [--receipts 20] [--clients 4] [--keep]

Each receipt is the whole receiving process at the Shanghai site with the NMPA pack active:
the clerk starts it and records the arrival (GS1 scans), an inspector inspects and signs, a
second inspector reviews when the pack demands it, the operator puts the stock away. For every
task the client does what a person does: list the inbox, open the task page, submit the form
(and sign when the page asks). Timed:

- per-task latency with one client: median / p95 of (inbox list + task page + submit [+ sign]),
  and of the submit alone (target: median 12 ms or less);
- task completions per second with several clients at once (target: 150 or more with four);
- the bare SpiffWorkflow cost of the same steps measured in the same run (deserialize the saved
  instance, complete the task with the same data, run engine steps, serialize).

Settings: GXPFLOW_BENCH_PG_URL (a role that may create databases).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_trace  # noqa: E402

from tests.integration.processes.test_receiving import (  # noqa: E402
    COLD_OK,
    THERMO,
    USERS,
    arrival,
    inspection,
    label,
    make_world,
)
from tests.support.factories import PASSWORD  # noqa: E402
from tests.support.web import started_instance  # noqa: E402

WHO = ("gunicorn", "postgres")  # whose CPU time the four-client phase reports
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
del COLD_OK


class Staff:
    """One person's browser: a cookie jar, CSRF tokens read from the pages."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.username = username
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            NoRedirect())

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=60) as response:
            return str(response.read().decode())

    def post(self, path: str, data: dict[str, Any], token: str) -> tuple[int, str, str]:
        body = urllib.parse.urlencode({"csrf_token": token, **data}).encode()
        try:
            with self.opener.open(urllib.request.Request(self.base + path, data=body),
                                  timeout=60) as response:
                return response.status, response.headers.get("Location", ""), ""
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location", ""), error.read().decode()

    def login(self) -> None:
        page = self.get("/auth/login")
        status, _, text = self.post("/auth/login", {"username": self.username,
                                                    "password": PASSWORD}, token_of(page))
        assert status == 302, text[:500]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None

    def http_error_302(self, req: Any, fp: Any, code: int, msg: str, headers: Any) -> Any:
        return fp


def token_of(page: str) -> str:
    found = TOKEN.search(page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receipt:
    """Drives one receiving instance to its end; records each task's timings."""

    def __init__(self, app: Any, staff: dict[str, Staff], number: int) -> None:
        self.app = app
        self.staff = staff
        self.number = number
        self.tasks: list[tuple[float, float, str]] = []  # (whole task, submit alone in ms, step)

    def run(self) -> None:
        clerk = self.staff["clerk"]
        page = clerk.get("/processes/receiving/start")
        status, location, text = clerk.post("/processes/receiving/start", {
            "subject": f"PO-{self.number}", "site_code": "SH"}, token_of(page))
        assert status == 302, text[-800:]
        instance = started_instance(self.app, location)
        lot = f"B{self.number:05d}"
        forms = {
            "receiving.arrival": ("clerk", arrival(THERMO, [label(THERMO, lot) + " x 20"], 20,
                                                   delivery_note_no=f"DN-{self.number}")),
            "receiving.inspect": ("insp1", inspection(20, 0)),
            "review.dual": ("insp2", {"review_decision": "confirmed",
                                      "review_comment": "checked"}),
            "receiving.putaway": ("oper", {"target_zone": "green"}),
        }
        for _ in range(8):
            step, task_id, _person = self._next(instance, forms)
            if task_id is None:
                return
            username, data = forms[step]
            self._complete(self.staff[username], task_id, step, data)
        raise AssertionError(f"receiving {instance} did not end")

    def _next(self, instance: int, forms: dict[str, Any]) -> tuple[str, int | None, str]:
        """The instance's open task (the bench knows it; the person then finds it in the
        inbox, which the timing includes)."""
        from sqlalchemy import select

        from engine.db import db
        from engine.workflow.models import HumanTask

        with self.app.app_context():
            row = db.session.scalar(select(HumanTask).where(
                HumanTask.instance_id == instance, HumanTask.status == "open"))
            if row is None:
                return "", None, ""
            assert row.step in forms, f"unexpected step {row.step}"
            return row.step, row.id, forms[row.step][0]

    def _complete(self, person: Staff, task_id: int, step: str, data: dict[str, Any]) -> None:
        began = time.perf_counter()
        person.get("/inbox/?tab=unclaimed")
        page = person.get(f"/inbox/tasks/{task_id}")
        token = token_of(page)
        # Sign as a person does: where the page shows the signature box (the diagram signs
        # the step), the password goes with the first submit; where the packs demand a
        # signature only on seeing the data, the answer (428) shows the box and they sign.
        url = f"/inbox/tasks/{task_id}"
        submit_began = time.perf_counter()
        if 'name="password"' in page:
            status, _, text = person.post(url, {**data, **signature(person, page)}, token)
        else:
            status, _, text = person.post(url, data, token)
        if status == 428:
            status, _, text = person.post(url, {**data, **signature(person, text)}, token)
        ended = time.perf_counter()
        assert status == 302, text[-1500:]
        self.tasks.append(((ended - began) * 1000, (ended - submit_began) * 1000, step))


def signature(person: Staff, page: str) -> dict[str, str]:
    """The signature fields as the page asks for them (the user name on the session's first)."""
    fields = {"password": PASSWORD}
    if 'name="username"' in page:
        fields["username"] = person.username
    return fields


def staff_for(base: str) -> dict[str, Staff]:
    people = {name: Staff(base, name) for name, _role in USERS}
    for person in people.values():
        person.login()
    return people


def cpu_seconds(names: tuple[str, ...]) -> dict[str, float]:
    """CPU time (user + system) used so far by the processes whose command name starts with one
    of `names`, summed per name, read from /proc (Linux): where a run's CPU went."""
    tick = os.sysconf("SC_CLK_TCK")
    used = dict.fromkeys(names, 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        command = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        for name in names:
            if command.startswith(name):
                used[name] += (int(fields[11]) + int(fields[12])) / tick
    return used


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bare_cost(app: Any, instances: int) -> list[float]:
    """Per task: load the saved instance as it was before the task, complete it with the data
    the person submitted, run engine steps, save (SpiffWorkflow alone, no database)."""
    from sqlalchemy import select

    from engine.db import db
    from engine.workflow import serialization
    from engine.workflow.models import TaskHistory
    from engine.workflow.tasks import complete_user_task, ready_user_tasks

    del instances
    times: list[float] = []
    with app.app_context():
        rows = db.session.scalars(select(TaskHistory).where(TaskHistory.event == "completed")
                                  .order_by(TaskHistory.id).limit(200)).all()
        saved = {}
        from engine.workflow.models import ProcessInstance
        for instance in db.session.scalars(select(ProcessInstance).limit(50)):
            saved[instance.id] = instance.serialized
        for row in rows:
            text = saved.get(row.instance_id)
            if text is None:
                continue
            began = time.perf_counter()
            workflow = serialization.loads(text, share_specs=False)
            ready = ready_user_tasks(workflow)
            if ready:
                try:
                    complete_user_task(workflow, ready[0].id, json.loads(row.data))
                    workflow.do_engine_steps()
                except Exception:  # a finished instance has nothing left to complete
                    pass
            serialization.dumps(workflow)
            times.append((time.perf_counter() - began) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from engine.db import db
    from tests.support.factories import make_user
    from web import create_app

    processes: list[subprocess.Popen[bytes]] = []
    with bench_trace.fresh_database(args.keep) as url, tempfile.TemporaryDirectory() as instance:
        app = create_app({"mode": "testing", "database_url": url, "instance_path": instance})
        with app.app_context():
            upgrade()
            for name, role in USERS:
                make_user(name, role)
            make_world(("SH",))
            db.session.commit()
        port = free_port()
        # gunicorn as production runs it, but in development mode: production sets the
        # session cookie Secure, which a client on plain http://127.0.0.1 must not send back.
        env = {k: v for k, v in os.environ.items() if not k.startswith("GXPFLOW_")} | {
            "GXPFLOW_MODE": "development", "GXPFLOW_SECRET_KEY": secrets.token_hex(16),
            "GXPFLOW_DATABASE_URL": url, "GXPFLOW_INSTANCE_PATH": instance,
            "GXPFLOW_LOG_LEVEL": "WARNING"}
        log = Path(instance) / "web.log"
        with log.open("wb") as out:
            processes.append(subprocess.Popen(
                [str(Path(sys.executable).with_name("gunicorn")), "--workers", "2",
                 "--bind", f"127.0.0.1:{port}", "web.wsgi:app"],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT))
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2).close()
                    break
                except OSError:
                    if processes[0].poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(log.read_text()[-3000:]) from None
                    time.sleep(0.3)

            one = staff_for(base)
            single: list[tuple[float, float, str]] = []
            for n in range(args.receipts):
                receipt = Receipt(app, one, n)
                receipt.run()
                single += receipt.tasks

            done: list[tuple[float, float, str]] = []
            lock = threading.Lock()
            errors: list[BaseException] = []

            def client(index: int) -> None:
                people = staff_for(base)
                try:
                    for n in range(args.receipts):
                        receipt = Receipt(app, people, 1000 * (index + 1) + n)
                        receipt.run()
                        with lock:
                            done.extend(receipt.tasks)
                except BaseException as error:  # reported below
                    errors.append(error)

            threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            cpu_before, own_before = cpu_seconds(WHO), time.process_time()
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - began
            cpu_after, own_after = cpu_seconds(WHO), time.process_time()
            if errors:
                raise errors[0]
            bare = bare_cost(app, args.receipts)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=20)

    whole = [t[0] for t in single]
    submit = [t[1] for t in single]
    print()
    print(f"receiving at SH (NMPA active), gunicorn 2 workers, PostgreSQL; {args.receipts} "
          f"receipts, {len(single)} tasks with one client")
    print(f"one client, per task (inbox + task page + submit [+ sign]): median "
          f"{statistics.median(whole):.1f} ms, p95 {percentile(whole, 0.95):.1f} ms")
    print(f"one client, submit alone:                               median "
          f"{statistics.median(submit):.1f} ms, p95 {percentile(submit, 0.95):.1f} ms "
          f"(target median <= 12 ms: {'MET' if statistics.median(submit) <= 12 else 'NOT MET'})")
    steps = {step: [t[1] for t in single if t[2] == step] for _, _, step in single}
    print("one client, submit median per step: " + ", ".join(
        f"{step} {statistics.median(times):.1f} ms" for step, times in steps.items()))
    rate = len(done) / elapsed
    print(f"{args.clients} clients: {len(done)} tasks in {elapsed:.1f} s = {rate:.1f} tasks/s "
          f"(each with its inbox and page views; target >= 150/s: "
          f"{'MET' if rate >= 150 else 'NOT MET'})")
    cpu = {name: (cpu_after[name] - cpu_before[name]) * 1000 / len(done) for name in WHO}
    print(f"CPU per task with {args.clients} clients: web workers {cpu['gunicorn']:.1f} ms, "
          f"PostgreSQL {cpu['postgres']:.1f} ms, the clients (this process) "
          f"{(own_after - own_before) * 1000 / len(done):.1f} ms; {os.cpu_count()} CPUs")
    if bare:
        print(f"bare SpiffWorkflow per task (load, complete, run, save): median "
              f"{statistics.median(bare):.2f} ms; submit / bare = "
              f"{statistics.median(submit) / statistics.median(bare):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
