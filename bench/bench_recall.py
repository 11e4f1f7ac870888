"""Recall benchmark: a recall started over HTTP on a ledger of at least 1,000,000 movements and
10,000 customers, on PostgreSQL with Redis and two real Celery workers.

    .venv/bin/python bench/bench_recall.py [--movements 1000000] [--workers 2] [--keep]

It builds the ledger of bench_trace.py (COPY-loaded history: lots received, inspected, moved,
shipped to 10,000 customers), makes its 20 big lots one product shipped to nearly every
customer, points every customer's recall webhook at a local HTTP sink, then serves the app with
gunicorn (production mode) and starts the workers. Timed:

- API call to every unit held: POST /api/v1/recalls returns after the hold and the consignee list
  are committed (the hold is synchronous), checked by a query for unheld stock of those lots;
- API call to every notification delivered: until the sink has one notice per customer and the
  database has every consignee marked notified.

Targets (issue 7): held under 2 s, every notice delivered under 30 s.
Settings: GXPFLOW_BENCH_PG_URL (a role that may create databases), GXPFLOW_BENCH_REDIS_URL
(default redis://127.0.0.1:6379/14).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_trace

REDIS_URL = os.environ.get("GXPFLOW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
BIN = Path(sys.executable).parent


class Sink(BaseHTTPRequestHandler):
    """The customers' webhook endpoint: counts notices (each customer once)."""

    customers: set[str] = set()
    lock = threading.Lock()
    last_at = 0.0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        customer = json.loads(body)["customer"]
        with Sink.lock:
            Sink.customers.add(customer)
            Sink.last_at = time.perf_counter()
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class SinkServer(ThreadingHTTPServer):
    """A listen backlog like a production web server's: socketserver's default of 5 makes
    the kernel drop connections when more notices arrive at once, and each dropped one then
    waits a second for its SYN to be resent: a delay of the sink, not of the system."""

    request_queue_size = 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)


def wait_workers(app: Any, count: int, logs: Path) -> None:
    deadline = time.monotonic() + 90
    control = app.extensions["celery"].control
    while len(control.ping(timeout=1.0) or []) < count:
        if time.monotonic() > deadline:
            tails = [(logs / f"worker{n}.log").read_text()[-1500:] for n in range(count)]
            raise RuntimeError("the workers did not answer:\n" + "\n".join(tails))
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movements", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    random.seed(args.seed)

    from flask_migrate import upgrade

    from engine import audit
    from engine.db import db
    from engine.identity import service as identity
    from web import create_app

    sink = SinkServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{sink.server_port}/recall"
    queue = f"gxpflow-bench-{secrets.token_hex(3)}"
    processes: list[subprocess.Popen[bytes]] = []
    with bench_trace.fresh_database(args.keep) as url, tempfile.TemporaryDirectory() as instance:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GXPFLOW_")} | {
            "GXPFLOW_MODE": "production", "GXPFLOW_SECRET_KEY": secrets.token_hex(16),
            "GXPFLOW_DATABASE_URL": url, "GXPFLOW_BROKER_URL": REDIS_URL,
            "GXPFLOW_CELERY_QUEUE": queue, "GXPFLOW_INSTANCE_PATH": instance,
            "GXPFLOW_WORKERS": "2", "GXPFLOW_LOG_LEVEL": "WARNING",
            "GXPFLOW_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}  # the sink
        app = create_app({"mode": "testing", "database_url": url, "instance_path": instance,
                          "broker_url": REDIS_URL, "celery_queue": queue})
        with app.app_context():
            upgrade()
            world = bench_trace.World()
            figures = bench_trace.load(world, args.movements, rng)
            product_id = db.session.execute(text(
                "SELECT product_id FROM lot WHERE id = 1")).scalar_one()
            hot = list(range(1, bench_trace.HOT_LOTS + 1))
            connection = db.session.connection()
            connection.execute(text("SET session_replication_role = replica"))
            for table in ("lot", "stock_movement", "stock_balance"):
                column = "id" if table == "lot" else "lot_id"
                connection.execute(text(f"UPDATE {table} SET product_id = :p "
                                        f"WHERE {column} = ANY(:ids)"),
                                   {"p": product_id, "ids": hot})
            connection.execute(text("SET session_replication_role = DEFAULT"))
            connection.execute(text("UPDATE party SET notify_webhook = :hook WHERE is_customer"),
                               {"hook": hook})
            lots = list(db.session.execute(text(
                "SELECT lot_no FROM lot WHERE id = ANY(:ids) ORDER BY id"), {"ids": hot})
                .scalars())
            gtin = db.session.execute(text("SELECT gtin FROM product WHERE id = :p"),
                                      {"p": product_id}).scalar_one()
            erp = identity.create_user(audit.SYSTEM, "erp", "ERP system",
                                       "Bench-" + secrets.token_hex(8), must_change_password=False)
            identity.record_training(audit.SYSTEM, erp, "api_client", date.today(), None,
                                     "bench")
            identity.grant_role(audit.SYSTEM, erp, "api_client")
            token = identity.create_token(audit.SYSTEM, erp, "bench")
            db.session.commit()
            customers = db.session.execute(text(
                "SELECT count(DISTINCT party_id) FROM stock_movement "
                "WHERE lot_id = ANY(:ids) AND kind = 'ship'"), {"ids": hot}).scalar_one()
            units_on_hand = db.session.execute(text(
                "SELECT coalesce(sum(quantity), 0) FROM stock_balance "
                "WHERE lot_id = ANY(:ids) AND quantity > 0"), {"ids": hot}).scalar_one()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
                # Write out what loading left dirty, so the recall is not timed against the
                # load's own deferred I/O.
                conn.execute(text("CHECKPOINT"))

        logs = Path(instance)
        port = free_port()
        web_log = logs / "web.log"
        with web_log.open("wb") as out:
            processes.append(subprocess.Popen(
                [str(BIN / "gxpflow"), "serve", "--port", str(port)], env=env,
                stdout=out, stderr=subprocess.STDOUT))
        for n in range(args.workers):
            with (logs / f"worker{n}.log").open("wb") as out:
                processes.append(subprocess.Popen(
                    [str(BIN / "gxpflow"), "worker", "--concurrency", "2", "--without-gossip",
                     "--without-mingle", "-n", f"bench{n}@%h"], env=env, stdout=out,
                    stderr=subprocess.STDOUT))
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(base + "/healthz", processes[0], web_log)
            # Time the recall, not the start-up: wait until every worker answers a ping (a
            # worker still importing the app competes for the two cores with the API call).
            wait_workers(app, args.workers, logs)
            for _ in range(4):  # and both web workers have answered a request
                urllib.request.urlopen(base + "/healthz", timeout=10).close()
            body = json.dumps({"product": gtin, "lots": lots, "level": "I",
                               "reason": "Bench: sterile barrier failure",
                               "source": "Manufacturer notice BENCH-1"}).encode()
            request = urllib.request.Request(base + "/api/v1/recalls", data=body, method="POST",
                                             headers={"Authorization": f"Bearer {token}",
                                                      "Content-Type": "application/json",
                                                      "Idempotency-Key": "bench-recall-1"})
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=120) as response:
                answer = json.loads(response.read())
            held_s = time.perf_counter() - started
            with app.app_context():
                unheld = db.session.execute(text(
                    "SELECT coalesce(sum(quantity), 0) FROM stock_balance WHERE lot_id = ANY(:ids)"
                    " AND quantity > 0 AND status <> 'recalled'"), {"ids": hot}).scalar_one()
                deadline = time.monotonic() + 600
                notified = 0
                while time.monotonic() < deadline:
                    notified = db.session.execute(text(
                        "SELECT count(*) FROM recall_consignee WHERE notified_at IS NOT NULL"
                    )).scalar_one()
                    db.session.rollback()
                    if notified >= answer["customers"]:
                        break
                    time.sleep(0.2)
                delivered_s = time.perf_counter() - started
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
            sink.shutdown()
            sink.server_close()

    print()
    print(f"ledger: {int(figures['movements']):,} movements; recalled product {gtin}, "
          f"{len(lots)} lots, {units_on_hand:,} units on hand, shipped to {customers:,} "
          f"customers")
    print(f"recall {answer['number']}: {answer['held_units']:,} units held, "
          f"{answer['customers']:,} customers, {unheld} units left unheld")
    print(f"API call -> every unit held:            {held_s * 1000:8.0f} ms  (target < 2000 ms) "
          f"{'MET' if held_s < 2 and unheld == 0 else 'NOT MET'}")
    print(f"API call -> every notice delivered:     {delivered_s:8.1f} s   (target < 30 s) "
          f"{'MET' if delivered_s < 30 and notified >= answer['customers'] else 'NOT MET'}"
          f"  [{notified:,} notified, {len(Sink.customers):,} webhooks received, "
          f"{args.workers} workers x 2 processes]")
    return 0 if unheld == 0 and notified >= answer["customers"] else 1


if __name__ == "__main__":
    sys.exit(main())
