"""Lost updates and duplicate creates under gunicorn -w 4 (gunicorn.conf.py), on a fresh database.

    python bench/concurrency.py --sqlite [--seconds 20]
    python bench/concurrency.py --postgres postgresql://postgres@127.0.0.1/pulse_bench_safety

1. 32 threads each repeat, for N seconds, a read-modify-write of one lead's numberOfEmployees:
   GET (value and ETag) → +1 → PATCH with If-Match, again from the GET on 412. Prints the
   successful PATCHes and the final value: equal means 0 lost updates; the lead's audit log must
   hold one entry per successful PATCH.
2. 20 simultaneous POSTs with one Idempotency-Key: prints how many leads they created (1).
Exits 1 if a check fails. The PostgreSQL database in the URL is dropped and created afresh.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server import (
    RESULTS,
    Client,
    database_from_args,
    gunicorn,
    prepare,
    shown,
)

THREADS = 32
BURST = 20


def read_modify_write(host: str, token: str, lead: str, until: float, tally: Counter) -> None:
    client = Client(host, token)
    while time.monotonic() < until:
        status, headers, body = client.request("GET", lead)
        if status != 200:
            tally[f"GET {status}"] += 1
            continue
        value = body["numberOfEmployees"] + 1
        status, _, _ = client.request(
            "PATCH", lead, {"numberOfEmployees": value}, {"If-Match": headers["etag"]}
        )
        tally["PATCH 200 (success)" if status == 200 else f"PATCH {status}"] += 1


def lost_updates(host: str, token: str, seconds: float) -> bool:
    client = Client(host, token)
    status, _, lead = client.request(
        "POST", "/api/leads", {"firstName": "Count", "lastName": "Er", "numberOfEmployees": 0}
    )
    assert status == 201, lead
    path = f"/api/leads/{lead['id']}"
    tally: Counter = Counter()
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=read_modify_write, args=(host, token, path, until, tally))
        for _ in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _, _, final = client.request("GET", path)
    successes = tally["PATCH 200 (success)"]
    updates = sum(e["event"] == "lead_updated" for e in final["auditLog"])
    print(f"  {THREADS} threads, {seconds:g} s of GET → +1 → PATCH If-Match (retry on 412)")
    for outcome, n in sorted(tally.items()):
        print(f"    {outcome:<24} {n:>7,}")
    print(f"  successful PATCHes       {successes:>7,}")
    print(f"  final numberOfEmployees  {final['numberOfEmployees']:>7,}")
    print(f"  lost updates             {successes - final['numberOfEmployees']:>7,}")
    print(f"  audit entries (updates)  {updates:>7,}")
    return final["numberOfEmployees"] == successes == updates and successes > 0


def duplicate_creates(host: str, token: str) -> bool:
    client = Client(host, token)
    before = client.request("GET", "/api/leads?pageSize=1")[2]["totalCount"]
    start = threading.Barrier(BURST)
    results: list[tuple[int, int | None]] = []

    def post() -> None:
        own = Client(host, token)
        own.request("GET", "/api/leads?pageSize=1")  # connect (and authenticate) beforehand
        start.wait()
        status, _, body = own.request(
            "POST",
            "/api/leads",
            {"firstName": "Once", "lastName": "Only"},
            {"Idempotency-Key": "bench-burst"},
        )
        results.append((status, body.get("id") if isinstance(body, dict) else None))

    threads = [threading.Thread(target=post) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = client.request("GET", "/api/leads?pageSize=1")[2]["totalCount"]
    statuses = Counter(status for status, _ in results)
    ids = {lead_id for _, lead_id in results}
    print(f"  {BURST} simultaneous POSTs, one Idempotency-Key")
    print(f"    statuses               {dict(statuses)}")
    print(f"    distinct lead ids      {len(ids)}")
    print(f"  leads created            {after - before:>7,}")
    return after - before == 1 and statuses == Counter({201: BURST}) and len(ids) == 1


def main() -> None:
    url, kind, seconds = database_from_args("concurrency")
    setup = prepare(url)
    log = RESULTS / f"concurrency-{kind}.log"
    print(f"{kind}: gunicorn -w 4 -c gunicorn.conf.py (server log: {shown(log)})")
    with gunicorn(url, log) as host:
        ok = lost_updates(host, setup.token, seconds or 20)
        ok = duplicate_creates(host, setup.token) and ok
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
