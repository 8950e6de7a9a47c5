"""PostgreSQL gone for 10 s in the middle of a load run, under gunicorn -w 4 (gunicorn.conf.py).

    python bench/outage.py --postgres postgresql://postgres@127.0.0.1/pulse_bench_safety
    python bench/outage.py --postgres postgresql://postgres@127.0.0.1/pulse_bench_safety --partition

The app reaches PostgreSQL through a TCP proxy (tests/tcp_proxy.py); the server itself is never
touched. The load of bench/load_test.py runs for 10 s, then the proxy drops every connection
and refuses new ones for 10 s (as a stopped server does), or with --partition drops every byte
without closing anything (as a pulled cable or a failover does), then forwards again for 15 s.
Prints 500s (must be 0), 503s during the outage with their latency (p50 and p99) and that of
/healthz (probed twice a second), the time from the restore to the first success (must be at
most 5 s), and checks in the database that every lead and every change of a lead has its
audit entry (no write without audit). Exits 1 if a check fails.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load_test import CLIENTS, DEMO_LEADS, Tally, Worker
from bench.server import (
    RESULTS,
    Client,
    count_in_log,
    database_from_args,
    gunicorn,
    percentile,
    prepare,
    shown,
)
from tests.tcp_proxy import TcpProxy

BEFORE, CUT, AFTER = 10.0, 10.0, 15.0
RECOVERY_LIMIT = 5.0


class Timeline(Tally):
    """The tally, plus when each response came and what it was."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[float, int]] = []
        self.waits: list[tuple[float, int, float]] = []  # (sent, status, seconds)
        self.health: list[tuple[float, int, float]] = []

    def add(self, operation: str, status: int, seconds: float) -> None:
        super().add(operation, status, seconds)
        now = time.monotonic()
        with self.lock:
            self.events.append((now, status))
            self.waits.append((now - seconds, status, seconds))


def probe_health(host: str, tally: Timeline, until: float) -> None:
    """GET /healthz twice a second, as a load balancer does."""
    client = Client(host, "")
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            status = client.request("GET", "/healthz")[0]
        except OSError:
            status = 0
        tally.health.append((started, status, time.monotonic() - started))
        time.sleep(max(0.0, 0.5 - (time.monotonic() - started)))


def audit_gaps(url: str, account_id: int) -> tuple[int, int]:
    """(leads, leads whose audit entries do not match their writes).

    Every write of a lead bumps its version once and records one entry: a lead has exactly
    one `lead_created` entry and `version - 1` entries of later changes.
    """
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT l.id, l.version,"
                " count(a.id) FILTER (WHERE a.event = 'lead_created'),"
                " count(a.id) FILTER (WHERE a.event <> 'lead_created')"
                " FROM leads l LEFT JOIN audit_events a ON a.lead_id = l.id"
                " WHERE l.account_id = :account GROUP BY l.id, l.version"
            ),
            {"account": account_id},
        ).all()
    engine.dispose()
    demo = {row.id for row in rows if row.id <= DEMO_LEADS}  # bulk-loaded: no created entry
    gaps = sum(
        1
        for lead_id, version, created, changes in rows
        if changes != version - 1 or created != (0 if lead_id in demo else 1)
    )
    return len(rows), gaps


def run_load(
    host: str, token: str, proxy: TcpProxy, tally: Timeline, partition: bool
) -> tuple[float, float]:
    """The load for BEFORE + CUT + AFTER seconds with the cut in the middle; (cut, restore)."""
    until = time.monotonic() + BEFORE + CUT + AFTER
    workers = [Worker(host, token, tally, seed) for seed in range(CLIENTS)]
    threads = [threading.Thread(target=w.run, args=(until,)) for w in workers]
    threads.append(threading.Thread(target=probe_health, args=(host, tally, until)))
    for thread in threads:
        thread.start()
    time.sleep(BEFORE)
    cut = time.monotonic()
    if partition:
        proxy.blackhole()
        print(f"  t={BEFORE:.0f} s: network partition (every byte dropped, nothing closed)")
    else:
        proxy.cut()
        print(f"  t={BEFORE:.0f} s: PostgreSQL cut off (connections dropped, new ones refused)")
    time.sleep(CUT)
    restored = time.monotonic()
    proxy.restore()
    print(f"  t={BEFORE + CUT:.0f} s: PostgreSQL reachable again")
    for thread in threads:
        thread.join()
    return cut, restored


def report(tally: Timeline, cut: float, restored: float, log: Path, audit: tuple[int, int]) -> bool:
    statuses = Counter(status for _, status in tally.events)
    during = Counter(status for t, status in tally.events if cut <= t < restored)
    first_success = min((t for t, s in tally.events if t >= restored and s < 500), default=None)
    recovery = None if first_success is None else first_success - restored
    errors_500 = statuses[500]
    others_5xx = sum(n for s, n in statuses.items() if s > 500 and s != 503)
    leads, gaps = audit
    print(
        f"  responses                {sum(statuses.values()):>7,}  {dict(sorted(statuses.items()))}"
    )
    print(f"  during the cut           {dict(sorted(during.items()))}")
    for name, samples in (("requests", tally.waits), ("/healthz", tally.health)):
        for when, keep in (
            ("in flight at its start", lambda sent, took: sent < cut < sent + took),
            ("sent during it", lambda sent, took: cut <= sent < restored),
        ):
            waits = [took for sent, _, took in samples if keep(sent, took)]
            if waits:
                print(
                    f"  {name} {when}: p50 {percentile(waits, 0.5):.2f} s, "
                    f"p99 {percentile(waits, 0.99):.2f} s, max {max(waits):.2f} s ({len(waits)})"
                )
    print(f"  500 responses            {errors_500:>7,}")
    print(f"  503 during the cut       {during[503]:>7,}")
    print(f"  other 5xx                {others_5xx:>7,}")
    print(f"  connection errors        {sum(tally.errors.values()):>7,}  {dict(tally.errors)}")
    shown_recovery = "never" if recovery is None else f"{recovery:.2f} s"
    print(f"  restore → first success  {shown_recovery:>7}")
    print(f"  leads checked            {leads:>7,}; without matching audit entries: {gaps}")
    print(f"  'Traceback' in the server log: {count_in_log(log, 'Traceback')}")
    return (
        errors_500 == 0
        and others_5xx == 0
        and not tally.errors
        and recovery is not None
        and recovery <= RECOVERY_LIMIT
        and gaps == 0
    )


def main() -> None:
    partition = "--partition" in sys.argv
    if partition:
        sys.argv.remove("--partition")
    url, kind, _ = database_from_args("outage", sqlite=False)
    setup = prepare(url, demo_leads=DEMO_LEADS)
    target = sa.make_url(url)
    log = RESULTS / "outage-postgresql.log"
    print(
        f"{kind} through a TCP proxy: gunicorn -w 4 -c gunicorn.conf.py, {CLIENTS} clients "
        f"(server log: {shown(log)})"
    )
    tally = Timeline()
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        proxied = target.set(host="127.0.0.1", port=proxy.port)
        served = proxied.render_as_string(hide_password=False)
        with gunicorn(served, log, DATABASE_CONNECT_TIMEOUT="2") as host:
            cut, restored = run_load(host, setup.token, proxy, tally, partition)
    ok = report(tally, cut, restored, log, audit_gaps(url, setup.account_id))
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
