"""A bounded load run under gunicorn -w 4 (gunicorn.conf.py): 50 clients, mixed reads and writes.

    python bench/load_test.py --sqlite [--seconds 60]
    python bench/load_test.py --postgres postgresql://postgres@127.0.0.1/pulse_bench_safety

A fresh database with 2,000 demo leads; 50 threads (one keep-alive connection each) for 60 s,
each request drawn at random: list 35 %, search 25 %, get 20 % (reads 80 %), create 8 %,
patch with If-Match 8 %, archive or restore 4 %. Prints requests, status counts, p50/p99, the
number of 5xx (must be 0) and of "database is locked" lines in the server log (must be 0).
Exits 1 if a check fails. The PostgreSQL database in the URL is dropped and created afresh.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server import (
    RESULTS,
    Client,
    count_in_log,
    database_from_args,
    gunicorn,
    percentile,
    prepare,
    server_latencies,
    shown,
)

CLIENTS = 50
DEMO_LEADS = 2_000
SEARCHES = ("acme", "ber", "son", "tech", "mar", "north", "lin")


@dataclass
class Tally:
    """What the clients saw, merged under a lock."""

    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, operation: str, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[(operation, status)] += 1
            self.latencies.append(seconds)


class Worker:
    """One client doing a random mix of operations on random leads."""

    def __init__(self, host: str, token: str, tally: Tally, seed: int) -> None:
        self.client, self.tally = Client(host, token), tally
        self.random = random.Random(seed)
        self.known: list[int] = list(range(1, DEMO_LEADS + 1))  # demo leads get ids 1..N

    def call(self, operation: str, method: str, path: str, body=None, headers=None):
        started = time.perf_counter()
        try:
            status, answer_headers, answer = self.client.request(method, path, body, headers)
        except OSError as error:
            with self.tally.lock:
                self.tally.errors[type(error).__name__] += 1
            return None, {}, None
        self.tally.add(operation, status, time.perf_counter() - started)
        return status, answer_headers, answer

    def list(self) -> None:
        page = self.random.randint(1, 20)
        sort = self.random.choice(["-createdAt", "lastName", "-numberOfEmployees", "company"])
        self.call("list", "GET", f"/api/leads?page={page}&sort={sort}")

    def search(self) -> None:
        self.call("search", "GET", f"/api/leads?search={self.random.choice(SEARCHES)}")

    def get(self) -> None:
        self.call("get", "GET", f"/api/leads/{self.random.choice(self.known)}")

    def create(self) -> None:
        n = self.random.randrange(10**6)
        body = {"firstName": f"Load{n}", "lastName": "Test", "company": "Acme Load"}
        status, _, lead = self.call("create", "POST", "/api/leads", body)
        if status == 201:
            self.known.append(lead["id"])

    def patch(self) -> None:
        path = f"/api/leads/{self.random.choice(self.known)}"
        status, headers, lead = self.call("patch (read)", "GET", path)
        if status == 200:
            body = {"numberOfEmployees": (lead["numberOfEmployees"] or 0) + 1}
            self.call("patch", "PATCH", path, body, {"If-Match": headers["etag"]})

    def archive(self) -> None:
        path = f"/api/leads/{self.random.choice(self.known)}/archive"
        self.call("archive", self.random.choice(["POST", "DELETE"]), path)

    def run(self, until: float) -> None:
        mix: list[tuple[Callable[[], None], int]] = [
            (self.list, 35),
            (self.search, 25),
            (self.get, 20),
            (self.create, 8),
            (self.patch, 8),
            (self.archive, 4),
        ]
        operations, weights = zip(*mix, strict=True)
        while time.monotonic() < until:
            self.random.choices(operations, weights)[0]()


def report(tally: Tally, seconds: float, log: Path) -> bool:
    total = sum(tally.statuses.values())
    by_status = Counter()
    for (_, status), n in tally.statuses.items():
        by_status[status] += n
    server_errors = sum(n for status, n in by_status.items() if status >= 500)
    locked = count_in_log(log, "database is locked")
    print(f"  requests                 {total:>9,}  ({total / seconds:,.0f}/s)")
    for (operation, status), n in sorted(tally.statuses.items()):
        print(f"    {operation:<14} {status}  {n:>9,}")
    print(f"  status counts            {dict(sorted(by_status.items()))}")
    print(
        f"  p50 / p99 at the client  {percentile(tally.latencies, 0.5) * 1000:.1f} ms / "
        f"{percentile(tally.latencies, 0.99) * 1000:.1f} ms"
    )
    inside = server_latencies(log)
    print(
        f"  p50 / p99 in gunicorn    {percentile(inside, 0.5) * 1000:.1f} ms / "
        f"{percentile(inside, 0.99) * 1000:.1f} ms  (access log; the rest is queueing)"
    )
    print(f"  5xx responses            {server_errors:>9,}")
    print(f"  connection errors        {sum(tally.errors.values()):>9,}  {dict(tally.errors)}")
    print(f"  'database is locked' in the server log: {locked}")
    return server_errors == 0 and locked == 0 and not tally.errors


def main() -> None:
    url, kind, seconds = database_from_args("load_test")
    seconds = seconds or 60
    setup = prepare(url, demo_leads=DEMO_LEADS)
    log = RESULTS / f"load_test-{kind}.log"
    print(
        f"{kind}: gunicorn -w 4 -c gunicorn.conf.py, {CLIENTS} clients, {seconds:g} s "
        f"(server log: {shown(log)})"
    )
    tally = Tally()
    with gunicorn(url, log) as host:
        until = time.monotonic() + seconds
        workers = [Worker(host, setup.token, tally, seed) for seed in range(CLIENTS)]
        threads = [threading.Thread(target=w.run, args=(until,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    ok = report(tally, seconds, log)
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
