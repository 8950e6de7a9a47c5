"""Measure the list, search and page targets against a real gunicorn, with wrk.

    python bench/run.py                       # every database that bench/load.py prepared
    python bench/run.py --only sqlite --seconds 2
    python bench/run.py --cases 'date|search'           # the cases whose name matches

For each database it starts `gunicorn -k sync -w 2 wsgi:app` (and a Flask hello-world with
the same settings), then runs each case with `wrk -c1` three times and prints the median
latency, p99, requests/s, and in the same run the ratio to hello-world's median latency and
to the raw SQL of the same request (its statements replayed on a bare driver connection).
Every case runs its queries on each request (the list cache is off); cases marked "first
time" run against a second server whose count cache is off too, so every request counts
afresh. Ends with list throughput vs hello-world (with the default settings, and with the list
cache off) and each worker's memory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "bench" / "data"
GUNICORN = [sys.executable, "-m", "gunicorn", "-k", "sync", "-w", "2"]


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    target_ms: float
    kind: str = "api"  # api (bearer token), html (session cookie), fragment (htmx request)
    fresh_counts: bool = False  # against the server without a count cache


def cases(setup: dict) -> list[Case]:
    from app.leads.fields import SORTABLE

    month_ago = (datetime.now(UTC) - timedelta(days=365)).date()
    month = f"{month_ago.replace(day=1)},{month_ago.replace(day=28)}"
    result = [
        Case("default list, page 1", "/api/leads", 5),
        Case("filter text processStage", "/api/leads?processStage=Qualified", 10),
        Case("filter number range", "/api/leads?numberOfEmployees=100,1000", 10),
        Case("filter boolean", "/api/leads?interestedInSwitching=true", 10),
        Case("filter date range", f"/api/leads?lastContacted={month}", 10),
        Case("filter text (first time)", "/api/leads?source=Webinar", 10, fresh_counts=True),
    ]
    for json_name in SORTABLE:
        for sign in ("", "-"):
            result.append(Case(f"sort {sign}{json_name}", f"/api/leads?sort={sign}{json_name}", 10))
    for sort in ("-createdAt", "lastName", "-lastContacted", "email", "-numberOfEmployees"):
        result.append(Case(f"page=5000 sort={sort}", f"/api/leads?sort={sort}&page=5000", 15))
    rare, common = setup["rare_term"], setup["common_term"]
    result += [
        Case(f"search rare {rare!r}", f"/api/leads?search={rare}", 20, fresh_counts=True),
        Case(
            f"search {common!r} ({setup['common_share']:.0%}), first time",
            f"/api/leads?search={common}",
            150 if setup["database"] == "sqlite" else 250,
            fresh_counts=True,
        ),
        Case(f"search {common!r}, asked again", f"/api/leads?search={common}", 20),
        Case("GET /api/leads/{id}", f"/api/leads/{setup['lead_id']}", 3),
        Case("HTML /leads", "/leads", 10, kind="html"),
        Case("htmx fragment /leads", "/leads", 10, kind="fragment"),
    ]
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(app: str, env: dict[str, str]):
    port = free_port()
    process = subprocess.Popen(
        [*GUNICORN, "-b", f"127.0.0.1:{port}", app],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError as error:
            if getattr(error, "code", None):  # an HTTP answer (hello-world has no /healthz)
                break
            time.sleep(0.2)
    try:
        yield base, process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def worker_rss_mb(master: subprocess.Popen) -> list[float]:
    out = subprocess.run(
        ["ps", "--ppid", str(master.pid), "-o", "rss="], capture_output=True, text=True
    ).stdout
    return [int(line) / 1024 for line in out.split()]


def wrk(url: str, headers: dict[str, str], seconds: float, connections: int = 1) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise SystemExit(f"wrk saw error responses for {url}:\n{out}")

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"p50": ms("50%"), "p99": ms("99%"), "rps": rps}


def measure(url: str, headers: dict[str, str], seconds: float, runs: int = 3) -> dict:
    results = [wrk(url, headers, seconds) for _ in range(runs)]
    return {k: statistics.median(r[k] for r in results) for k in ("p50", "p99", "rps")}


def session_cookie(base: str, email: str, password: str) -> str:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": password})
    opener.open(base + "/login", data=form.encode())
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def raw_sql_ms(setup: dict, case: Case, env: dict[str, str]) -> float | None:
    """The same request's SQL statements, replayed on a bare driver connection (median ms)."""
    from sqlalchemy import event

    from app import create_app
    from app.extensions import db

    os.environ.update(env)
    app = create_app({"COUNT_CACHE_SIZE": 0 if case.fresh_counts else 4096, "LIST_CACHE_MB": 0})
    statements: list[tuple[str, object]] = []
    with app.app_context():

        def record(conn, cursor, statement, parameters, context, executemany):
            statements.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", record)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {setup['token']}"}
        if case.kind != "api":
            return None
        client.get(case.path, headers=headers)  # warm the caches the server would have
        statements.clear()
        client.get(case.path, headers=headers)
        event.remove(db.engine, "before_cursor_execute", record)
        raw = db.engine.raw_connection()
        timings = []
        for _ in range(15):
            cursor = raw.cursor()
            started = time.perf_counter()
            for statement, parameters in statements:
                if statement.strip().upper() in ("BEGIN", "COMMIT", "ROLLBACK"):
                    continue
                cursor.execute(statement, parameters)
                cursor.fetchall() if cursor.description else None
            timings.append((time.perf_counter() - started) * 1000)
            cursor.close()
            raw.rollback()
        raw.close()
        db.engine.dispose()
    return statistics.median(timings)


def run(setup: dict, seconds: float, only_cases: re.Pattern[str] | None = None) -> None:
    name = setup["database"]
    env = {
        "DATABASE_URL": setup["url"],
        "SECRET_KEY": "bench-secret-key-0123456789abcdef0123",
        "SESSION_COOKIE_SECURE": "false",
        "RATELIMIT_ENABLED": "false",
        "GUNICORN_MAX_REQUESTS": "0",  # keep each worker (and its caches) for the whole run
    }
    print(f"\n== {name}: gunicorn -k sync -w 2, wrk -c1, 3 runs of {seconds:g} s each, medians")
    with gunicorn("bench.hello:app", env) as (hello_base, _):
        hello = measure(hello_base + "/", {}, seconds)
    print(f"hello-world: p50 {hello['p50']:.2f} ms, {hello['rps']:.0f} req/s")
    header = (
        f"{'case':<44}{'p50 ms':>8}{'p99 ms':>8}{'req/s':>8}{'target':>8}{'x hello':>9}"
        f"{'x SQL':>8}  ok"
    )
    print(header)
    rows = []
    # Each case runs its queries on every request: the list cache is off (counts stay cached,
    # as they are by default, except on the server for "first time" cases).
    uncached = env | {"LIST_CACHE_MB": "0"}
    with (
        gunicorn("wsgi:app", uncached) as (base, master),
        gunicorn("wsgi:app", uncached | {"COUNT_CACHE_SIZE": "0"}) as (fresh_base, _),
    ):
        cookie = session_cookie(base, setup["email"], setup["password"])
        for case in cases(setup):
            if only_cases and not only_cases.search(case.name):
                continue
            headers = {"Authorization": f"Bearer {setup['token']}"}
            if case.kind != "api":
                headers = {"Cookie": cookie}
            if case.kind == "fragment":
                headers |= {"HX-Request": "true", "HX-Target": "lead-results"}
            server = fresh_base if case.fresh_counts else base
            if case.kind != "api":
                headers["Cookie"] = session_cookie(server, setup["email"], setup["password"])
            m = measure(server + case.path, headers, seconds)
            raw = raw_sql_ms(setup, case, env)
            ok = m["p50"] <= case.target_ms
            rows.append((case, m, raw, ok))
            raw_ratio = f"{m['p50'] / raw:7.1f}x" if raw else "       -"
            print(
                f"{case.name[:43]:<44}{m['p50']:8.2f}{m['p99']:8.2f}{m['rps']:8.0f}"
                f"{case.target_ms:8g}{m['p50'] / hello['p50']:8.1f}x{raw_ratio}  "
                f"{'yes' if ok else 'NO'}",
                flush=True,
            )
        throughput(setup, env, base, seconds)
        rss = worker_rss_mb(master)
        print(
            f"worker memory after the run: {', '.join(f'{r:.0f} MB' for r in rss)} (target <= 150)"
        )
        misses = [case.name for case, _, _, ok in rows if not ok]
        print(
            f"{len(rows) - len(misses)}/{len(rows)} cases within target"
            + (f"; missed: {misses}" if misses else "")
        )


def throughput(setup: dict, env: dict[str, str], uncached_base: str, seconds: float) -> None:
    """Requests/s of the default list against hello-world's, with wrk -c4: on the server with
    the default settings (a list asked for again is served from the list cache until a lead
    write) and on the one with the list cache off (every request runs its queries)."""
    auth = {"Authorization": f"Bearer {setup['token']}"}
    with gunicorn("wsgi:app", env) as (base, master):
        cached = wrk(base + "/api/leads", auth, seconds * 2, 4)
        rss = fill_list_cache(base, auth, master)
    uncached = wrk(uncached_base + "/api/leads", auth, seconds * 2, 4)
    with gunicorn("bench.hello:app", env) as (hello_base, _):
        hello = wrk(hello_base + "/", {}, seconds * 2, 4)
    for label, result in (("default settings", cached), ("list cache off", uncached)):
        print(
            f"throughput (wrk -c4), {label}: list {result['rps']:.0f} req/s, hello-world "
            f"{hello['rps']:.0f} req/s: {result['rps'] / hello['rps']:.0%} (target >= 30%)"
        )
    print(
        f"worker memory with a full list cache (default settings, 400 pages of 100 leads "
        f"asked twice each): {', '.join(f'{r:.0f} MB' for r in rss)} (target <= 150)"
    )


def fill_list_cache(base: str, auth: dict[str, str], master: subprocess.Popen) -> list[float]:
    """Ask for more big pages than the default list cache holds; each worker's RSS after."""
    for _ in range(2):  # the two workers take turns
        for page in range(1, 401):
            request = urllib.request.Request(f"{base}/api/leads?pageSize=100&page={page}")
            for name, value in auth.items():
                request.add_header(name, value)
            urllib.request.urlopen(request).read()
    return worker_rss_mb(master)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each wrk run")
    parser.add_argument("--cases", type=re.compile, help="only the cases whose name matches")
    args = parser.parse_args()
    setups = sorted(DATA.glob("setup-*.json"))
    if not setups:
        raise SystemExit("Run bench/load.py first.")
    for path in setups:
        setup = json.loads(path.read_text())
        if args.only in (None, setup["database"]):
            run(setup, args.seconds, args.cases)


if __name__ == "__main__":
    main()
