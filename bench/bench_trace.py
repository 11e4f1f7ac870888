"""Trace benchmark: forward and backward trace on a ledger of at least 1,000,000 movements on
PostgreSQL, then the check that every balance equals the sum of its movements.

    .venv/bin/python bench/bench_trace.py [--movements 1000000] [--samples 400] [--keep]

It creates a fresh database (dropped afterwards unless --keep), migrates it, makes the master
data through the engine's services, then bulk-loads a simulated multi-year history with COPY:
lots received at three sites, inspected (some rejected), moved between shelves and sites,
picked, shipped to thousands of customers, some returned and re-inspected, some shipments
reversed, serialised implants unit by unit. Movements are loaded in time order, so one lot's
rows are spread over the table as they would be in a real ledger. Balances and serial units
are computed alongside, exactly as the posting service would keep them. The timed queries are
the engine's own (`engine.ledger.trace`), the same code the CLI and the pages use.

Settings: GXPFLOW_BENCH_PG_URL (default: GXPFLOW_TEST_PG_URL or
postgresql://postgres@127.0.0.1:5432/postgres), a role that may create databases.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from engine import audit
from engine.db import db
from engine.ledger import integrity
from engine.ledger import trace as tracing
from engine.ledger.models import Lot
from engine.masterdata import service as md
from engine.masterdata.models import Location, Product

ADMIN_URL = os.environ.get("GXPFLOW_BENCH_PG_URL") or os.environ.get(
    "GXPFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SITES = (("SH", "Shanghai", "CN", "Asia/Shanghai"), ("CHI", "Chicago", "US", "America/Chicago"),
         ("RTM", "Rotterdam", "EU", "Europe/Amsterdam"))
SHELVES = 6
PRODUCTS = 300
SERIALISED_SHARE = 0.1
SUPPLIERS = 30
CUSTOMERS = 10_000
HOT_LOTS = 20
HOT_SHIPMENTS = 2000
START = datetime(2023, 1, 1, tzinfo=UTC)
SPAN_DAYS = 3 * 365
MOVEMENT_COLUMNS = ("id", "kind", "at", "product_id", "lot_id", "serial", "quantity",
                    "from_location_id", "from_status", "to_location_id", "to_status",
                    "party_id", "document", "reason", "actor_id", "actor_name", "instance_id",
                    "task_id", "reverses_id")


def log(message: str) -> None:
    print(message, flush=True)


@contextmanager
def admin() -> Iterator[psycopg.Connection]:
    url = make_url(ADMIN_URL)
    with psycopg.connect(host=url.host, port=url.port or 5432, user=url.username,
                         password=url.password, dbname=url.database, autocommit=True) as conn:
        yield conn


@contextmanager
def fresh_database(keep: bool) -> Iterator[str]:
    name = f"gxpflow_bench_{secrets.token_hex(4)}"
    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=name) \
            .render_as_string(hide_password=False)
    finally:
        if keep:
            log(f"kept database {name}")
        else:
            with admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class World:
    """Master data made through the services, and the ids the simulation needs."""

    def __init__(self) -> None:
        system = audit.SYSTEM
        self.sites: list[dict[str, Any]] = []
        for code, name, region, zone in SITES:
            site = md.create_site(system, code, name, region, zone)

            def loc(code: str, zone: str, site: Any = site) -> int:
                return md.create_location(system, site, code, zone).id

            self.sites.append({
                "quarantine": loc("Q-01", "quarantine"),
                "shelves": [loc(f"A-{i:02d}", "available") for i in range(1, SHELVES + 1)],
                "nonconforming": loc("NC-01", "nonconforming"),
                "returns": loc("RET-01", "returns"), "shipping": loc("SHP-01", "shipping"),
            })
        self.site_of = {location: site for site in self.sites
                        for location in (*site["shelves"], site["shipping"])}
        self.suppliers = [md.create_party(system, f"SUP-{i:03d}", f"供应商{i:03d}医疗器械公司",
                                          kinds={"supplier"}).id for i in range(SUPPLIERS)]
        self.customers = [md.create_party(system, f"CUS-{i:05d}", f"Customer hospital {i:05d}",
                                          kinds={"customer"}).id for i in range(CUSTOMERS)]
        self.products: list[tuple[int, bool]] = []
        for i in range(PRODUCTS):
            serialised = i < PRODUCTS * SERIALISED_SHARE
            data = f"069012{i:07d}"
            product = md.create_product(
                system, f"P{i:04d}", name_zh=f"医疗器械 {i:04d}", name_en=f"Device {i:04d}",
                device_class="III" if serialised else random.choice(("I", "II")),
                implantable=serialised, serialised=serialised,
                gtin=data + str(_check_digit(data)), registration_no=f"国械注准2023{i:07d}")
            self.products.append((product.id, serialised))
        db.session.commit()


def _check_digit(data: str) -> int:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(data)))
    return (10 - total % 10) % 10


class Simulation:
    """Generates movements as the posting service would, keeping balances and serial units."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.events: list[list[Any]] = []  # [at, seq, kind, ...] with a placeholder id
        self.balances: dict[tuple[int, int, int, str, str], int] = defaultdict(int)
        self.serials: dict[tuple[int, str], tuple[int, int | None, str | None]] = {}
        self.lots: list[tuple[Any, ...]] = []
        self.seq = 0
        self.documents = 0

    def post(self, at: datetime, kind: str, product: int, lot: int, qty: int, serial: str,
             source: tuple[int, str] | None, target: tuple[int, str] | None,
             out_status: str | None, party: int | None, document: str, reverses: int | None = None,
             from_status: str | None = None) -> int:
        if source is not None:
            key = (source[0], product, lot, serial, source[1])
            assert self.balances[key] >= qty, "the simulation overdrew a balance"
            self.balances[key] -= qty
        if target is not None:
            self.balances[(target[0], product, lot, serial, target[1])] += qty
        if serial:
            self.serials[(product, serial)] = (lot, target[0] if target else None,
                                               target[1] if target else out_status)
        self.seq += 1
        self.events.append([
            at, self.seq, kind, at, product, lot, serial, qty,
            source[0] if source else None, source[1] if source else from_status,
            target[0] if target else None, target[1] if target else out_status,
            party, document, "", None, "bench", None, None, reverses])
        return self.seq

    def doc(self, prefix: str) -> str:
        self.documents += 1
        return f"{prefix}-{self.documents:07d}"

    def lot(self, lot_id: int, hot: bool = False) -> None:
        """One lot's life; a hot lot is a big lot of a consumable shipped to many customers."""
        rng, world = self.rng, self.world
        product, serialised = rng.choice(world.products[int(PRODUCTS * SERIALISED_SHARE):]
                                         if hot else world.products)
        site = rng.choice(world.sites)
        supplier = rng.choice(world.suppliers)
        at = START + timedelta(days=rng.uniform(0, SPAN_DAYS - 120))
        made = at.date() - timedelta(days=rng.randint(30, 200))
        self.lots.append((lot_id, product, f"L{lot_id:07d}", made + timedelta(days=365 * 3),
                          made, supplier, "ok", False, "", None, at))

        def later(hours: float = 24.0) -> datetime:
            nonlocal at
            at += timedelta(hours=rng.uniform(0.1, hours))
            return at

        receipt = self.doc("GR")
        if serialised:
            serials = [f"S{lot_id:07d}{n:03d}" for n in range(rng.randint(5, 20))]
            units = [(s, 1) for s in serials]
        else:
            units = [("", rng.randint(100, 2000) if not hot else HOT_SHIPMENTS * 50)]
        shelves = site["shelves"]
        for serial, qty in units:
            self.post(later(1), "receive", product, lot_id, qty, serial,
                      None, (site["quarantine"], "quarantine"), None, supplier, receipt)
        stock: list[tuple[int, str, int]] = []  # (location, serial, quantity) available
        for serial, qty in units:
            rejected = 0 if serial or rng.random() > 0.1 else rng.randint(1, 5)
            if serial and rng.random() < 0.05:
                rejected = 1
            if rejected:
                self.post(later(4), "status_change", product, lot_id, rejected, serial,
                          (site["quarantine"], "quarantine"),
                          (site["nonconforming"], "nonconforming"), None, None, "")
            if qty - rejected:
                shelf = rng.choice(shelves)
                self.post(later(4), "status_change", product, lot_id, qty - rejected, serial,
                          (site["quarantine"], "quarantine"), (shelf, "available"), None,
                          None, "")
                stock.append((shelf, serial, qty - rejected))
        if not serialised and stock and rng.random() < 0.15:  # part goes to another site
            shelf, _, qty = stock[0]
            other = rng.choice([s for s in world.sites if s is not site])
            moved = qty // 3
            if moved:
                target = rng.choice(other["shelves"])
                self.post(later(72), "move", product, lot_id, moved, "", (shelf, "available"),
                          (target, "available"), None, None, self.doc("TR"))
                stock[0] = (shelf, "", qty - moved)
                stock.append((target, "", moved))
        shipments = (HOT_SHIPMENTS if hot else rng.randint(8, 40)) if not serialised \
            else len(stock)
        for _ in range(shipments):
            stock = [s for s in stock if s[2] > 0]
            if not stock:
                break
            index = rng.randrange(len(stock))
            shelf, serial, qty = stock[index]
            take = qty if serial else rng.randint(1, max(1, qty // (200 if hot else 4)))
            stock[index] = (shelf, serial, qty - take)
            customer = rng.choice(world.customers)
            order = self.doc("SO")
            source = (shelf, "available")
            if rng.random() < 0.3:
                shipping = world.site_of[shelf]["shipping"]
                self.post(later(48), "pick", product, lot_id, take, serial, source,
                          (shipping, "available"), None, None, order)
                source = (shipping, "available")
            ship = self.post(later(8), "ship", product, lot_id, take, serial, source, None,
                             "shipped", customer, order)
            if rng.random() < 0.01:  # booked on the wrong order: reversed the same day
                self.post(later(2), "reversal", product, lot_id, take, serial, None, source,
                          None, customer, order, reverses=ship, from_status="shipped")
                stock.append((source[0], serial, take))
                continue
            if rng.random() < 0.05:  # the customer sends part of it back, it is re-inspected
                back = take if serial else rng.randint(1, take)
                returns = world.site_of[source[0]]["returns"]
                self.post(later(240), "return", product, lot_id, back, serial, None,
                          (returns, "quarantine"), None, customer, self.doc("RMA"),
                          from_status="shipped")
                self.post(later(24), "status_change", product, lot_id, back, serial,
                          (returns, "quarantine"), (shelf, "available"), None, None, "")
                stock.append((shelf, serial, back))

    def movement_rows(self) -> Iterator[tuple[Any, ...]]:
        """Movements in time order, numbered as the database would have numbered them."""
        self.events.sort(key=lambda e: (e[0], e[1]))
        ids = {event[1]: n for n, event in enumerate(self.events, start=1)}
        for n, event in enumerate(self.events, start=1):
            row = event[2:]
            if row[-1] is not None:
                row[-1] = ids[row[-1]]
            yield (n, *row)


def load(world: World, target: int, rng: random.Random) -> dict[str, float]:
    figures: dict[str, float] = {}
    started = time.perf_counter()
    sim = Simulation(world, rng)
    for lot_id in range(1, HOT_LOTS + 1):
        sim.lot(lot_id, hot=True)
    lot_id = HOT_LOTS
    while len(sim.events) < target:
        lot_id += 1
        sim.lot(lot_id)
    figures["generate_s"] = time.perf_counter() - started
    log(f"simulated {len(sim.events):,} movements over {lot_id:,} lots "
        f"in {figures['generate_s']:.1f} s")

    started = time.perf_counter()
    connection = db.session.connection().connection.driver_connection
    assert isinstance(connection, psycopg.Connection)
    with connection.cursor() as cur:
        # Foreign keys are implemented as triggers; the simulation keeps them by construction
        # and the balance check below verifies the result.
        cur.execute("SET session_replication_role = replica")
        with cur.copy("COPY lot (id, product_id, lot_no, expiry_date, production_date, "
                      "supplier_id, expiry_flag, locked, lock_reason, locked_at, created_at) "
                      "FROM STDIN") as copy:
            for row in sim.lots:
                copy.write_row(row)
        with cur.copy(f"COPY stock_movement ({', '.join(MOVEMENT_COLUMNS)}) FROM STDIN") as copy:
            for row in sim.movement_rows():
                copy.write_row(row)
        with cur.copy("COPY stock_balance (location_id, product_id, lot_id, serial, status, "
                      "quantity) FROM STDIN") as copy:
            for key, quantity in sim.balances.items():
                copy.write_row((*key, quantity))
        with cur.copy("COPY serial_unit (product_id, serial, lot_id, location_id, status) "
                      "FROM STDIN") as copy:
            for (product, serial), (lot, location, status) in sim.serials.items():
                copy.write_row((product, serial, lot, location, status))
        cur.execute("SET session_replication_role = DEFAULT")
        for table in ("lot", "stock_movement", "stock_balance", "serial_unit"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))")
    db.session.commit()
    figures["copy_s"] = time.perf_counter() - started
    log(f"loaded with COPY in {figures['copy_s']:.1f} s "
        f"({len(sim.balances):,} balances, {len(sim.serials):,} serial units)")
    started = time.perf_counter()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    figures["analyze_s"] = time.perf_counter() - started
    figures["movements"] = len(sim.events)
    figures["lots"] = lot_id
    return figures


def timed(samples: list[Any], query: Callable[[Any], Any]) -> tuple[float, float, float]:
    """Median, p95 and max in milliseconds over the samples (after a short warm-up)."""
    for sample in samples[:20]:
        query(sample)
    times = []
    for sample in samples:
        started = time.perf_counter()
        query(sample)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return (statistics.median(times), times[int(len(times) * 0.95) - 1], times[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movements", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    random.seed(args.seed)

    from flask_migrate import upgrade

    from web import create_app

    with fresh_database(args.keep) as url, tempfile.TemporaryDirectory() as instance:
        app = create_app({"mode": "testing", "database_url": url, "instance_path": instance})
        with app.app_context():
            upgrade()
            world = World()
            figures = load(world, args.movements, rng)

            lot_ids = rng.sample(range(HOT_LOTS + 1, int(figures["lots"]) + 1), args.samples)
            hot_lots = [db.session.get(Lot, i) for i in range(1, HOT_LOTS + 1)]
            hot_rows = [len(tracing.lot_forward(lot)) for lot in hot_lots if lot is not None]
            hot = timed(hot_lots * 5, tracing.lot_forward)
            lots = [db.session.get(Lot, i) for i in lot_ids]
            product_of = {p.id: p for p in db.session.scalars(select(Product))}
            forward_rows = [len(tracing.lot_forward(lot)) for lot in lots if lot is not None]
            db.session.expunge_all()
            lots = [db.session.get(Lot, i) for i in lot_ids]
            forward = timed(lots, tracing.lot_forward)
            backward = timed(lots, tracing.lot_backward)
            both = timed(lots, lambda lot: tracing.trace(product_of[lot.product_id],
                                                          lot_no=lot.lot_no))
            serials = list(db.session.execute(text(
                "SELECT product_id, serial FROM serial_unit ORDER BY random() LIMIT :n"),
                {"n": args.samples}))
            serial_forward = timed(serials, lambda s: tracing.serial_forward(
                product_of[s[0]], s[1]))
            sample = lots[0]
            plan = "\n".join(db.session.execute(text(
                "EXPLAIN (ANALYZE, COSTS OFF) " + str(
                    tracing._query(tracing.FORWARD)
                    .where(tracing.StockMovement.lot_id == sample.id)
                    .compile(db.engine, compile_kwargs={"literal_binds": True})))).scalars())

            started = time.perf_counter()
            check = integrity.verify_balances()
            check_s = time.perf_counter() - started
            locations = db.session.scalar(select(db.func.count()).select_from(Location))
            db.session.rollback()

    log("")
    log(f"ledger: {int(figures['movements']):,} movements, {int(figures['lots']):,} lots, "
        f"{PRODUCTS} products, {locations} locations, {CUSTOMERS:,} customers")
    log(f"forward rows per lot: median {statistics.median(forward_rows):.0f}, "
        f"max {max(forward_rows)}; {HOT_LOTS} big lots with {min(hot_rows):,} to "
        f"{max(hot_rows):,} shipments and returns each")
    log(f"{'query (' + str(args.samples) + ' random lots)':42} {'median':>9} {'p95':>9} "
        f"{'max':>9}")
    for name, (median, p95, worst) in (("forward trace of a lot", forward),
                                       ("backward trace of a lot", backward),
                                       ("trace() both directions (3 queries)", both),
                                       ("forward trace of a serial", serial_forward),
                                       (f"forward trace of a big lot ({HOT_LOTS} lots x5)",
                                        hot)):
        log(f"{name:42} {median:7.2f}ms {p95:7.2f}ms {worst:7.2f}ms")
    target_met = forward[1] < 50
    log(f"forward trace p95 {forward[1]:.2f} ms: target p95 < 50 ms "
        f"{'MET' if target_met else 'NOT MET'}")
    log(f"balance check: {check.summary()} ({check_s:.1f} s)")
    for problem in check.mismatches[:10]:
        log("  " + problem)
    log("")
    log("plan of one forward trace:")
    log("\n".join("  " + line for line in plan.splitlines()))
    return 0 if check.ok and figures["movements"] >= 1_000_000 else 1


if __name__ == "__main__":
    sys.exit(main())

