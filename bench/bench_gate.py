"""Gate evaluation time per step for each shipped pack, and memory over 100,000 evaluations.

Run from the project root: `.venv/bin/python bench/bench_gate.py [--runs N]`. Prints figures and
ratios to the targets (median under 0.3 ms per evaluation per step; RSS growth under 5 %
between 1,000 and 100,000 evaluations); it asserts nothing, since shared machines are noisy.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000, help="timed runs per step")
    parser.add_argument("--total", type=int, default=100_000, help="evaluations for memory")
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


if __name__ == "__main__":
    main()
