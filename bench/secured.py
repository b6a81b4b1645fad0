"""`python -m bench.pipeline --secured`: the shipped worker over SASL_SSL against the
same worker over plaintext, in one invocation, on one broker.

`kafka.sh start --secured` gives the broker a plaintext listener beside its SASL_SSL
one (SCRAM-SHA-512, TLS from a throwaway CA): both runs read the same filled inputs
from the same broker, only the door differs. The SASL_SSL worker logs in as the
broker's `admin` (a super user: the ACL checks, a few hash lookups per request, are
not what is measured). Runs alternate which door goes first; the medians and their
ratio are printed.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path

from agents.kafka import KafkaConnection
from bench.harness import Result, log, mib

__all__ = ["DOORS", "compare", "scram_admin"]

# The plaintext listener and the SASL_SSL one of the same broker.
DOORS = ("plaintext", "SASL_SSL")


def scram_admin(state_dir: Path) -> KafkaConnection:
    """A SCRAM-SHA-512 connection of the secured broker's `admin` over SASL_SSL."""
    values = dict(
        line.split("=", 1)
        for line in (state_dir / "secured.env").read_text().splitlines()
        if "=" in line
    )
    return KafkaConnection(
        bootstrap_servers=values["SASL_SSL"],
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="admin",
        sasl_password=(Path(values["USERS"]) / "admin.password").read_text().strip(),
        ssl_ca=values["CA"],
        role="bench",
    )


def compare(runs: int, run_over: Callable[[str, int], Result]) -> None:
    """Run the worker `runs` times over each door (`run_over(door, run)`, the door one
    of `DOORS`), alternating which goes first; print the medians and their ratio."""
    results: dict[str, list[Result]] = {door: [] for door in DOORS}
    for run in range(1, runs + 1):
        order = list(DOORS) if run % 2 else list(reversed(DOORS))
        for door in order:
            log(f"run {run}/{runs}: backupwatch over {door}")
            r = run_over(door, run)
            results[door].append(r)
            log(
                f"  {door}: {r.seconds:.1f} s, {r.rate:,.0f} events/s, "
                f"{r.cpu_per_1k:.3f} CPU s/1k, peak RSS {mib(r.hwm_kb)}"
            )
    rate = {door: statistics.median(r.rate for r in rs) for door, rs in results.items()}
    cpu = {door: statistics.median(r.cpu_per_1k for r in rs) for door, rs in results.items()}
    print()
    print(f"{'worker (memory://)':<22} {'events/s':>10} {'CPU s/1k':>9} {'peak RSS':>10}")
    for door, rs in results.items():
        hwm = statistics.median(r.hwm_kb for r in rs)
        print(f"{door:<22} {rate[door]:>10,.0f} {cpu[door]:>9.3f} {mib(hwm):>10}")
    print(
        f"SASL_SSL / plaintext: events/s {rate['SASL_SSL'] / rate['plaintext']:.2f}x, "
        f"CPU per event {cpu['SASL_SSL'] / cpu['plaintext']:.2f}x "
        f"(medians of {runs} interleaved runs)"
    )
    print()
    print("each run (door, s, events/s, CPU s/1k):")
    for door, rs in results.items():
        for r in rs:
            print(f"  {door:<10} {r.seconds:6.1f} s {r.rate:>9,.0f}/s {r.cpu_per_1k:7.3f}")
