"""Render time of the salespeople's list page and its htmx fragments with 100,000 demo leads.

    python bench/ui.py [--leads 100000] [--seconds 2]

Creates a fresh SQLite database (bench/data/ui.db) with `flask demo`, starts gunicorn
(-k sync -w 2), signs in as the demo admin and measures each page and fragment with wrk -c1,
three runs each; prints the median and p99 against the 50 ms target of issue 3.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import gunicorn, measure, session_cookie  # noqa: E402

TARGET_MS = 50
FRAGMENT = {"HX-Request": "true", "HX-Target": "lead-results"}
CASES = [
    ("list page", "/leads", {}),
    ("fragment: search 'acme'", "/leads?search=acme", FRAGMENT),
    ("fragment: search 'zürich'", "/leads?search=z%C3%BCrich", FRAGMENT),
    ("fragment: sort by last name", "/leads?sort=lastName", FRAGMENT),
    ("fragment: sort by last name, descending", "/leads?sort=-lastName", FRAGMENT),
    ("fragment: page 2", "/leads?page=2", FRAGMENT),
    ("fragment: page 500, 25 per page", "/leads?page=500&pageSize=25", FRAGMENT),
    ("fragment: stage Qualified", "/leads?processStage=Qualified", FRAGMENT),
    ("fragment: archived", "/leads?archived=true", FRAGMENT),
    ("count: stage Qualified", "/leads/count?processStage=Qualified", FRAGMENT),
    ("count: search 'acme'", "/leads/count?search=acme", FRAGMENT),
    ("lead page", "/leads/{lead_id}", {}),
    ("edit form", "/leads/{lead_id}/edit", {}),
]


def prepare(database: Path, leads: int) -> tuple[dict[str, str], str, str]:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    database.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "bench-ui-secret-0123456789abcdef012345",
        "SESSION_COOKIE_SECURE": "false",
        "RATELIMIT_ENABLED": "false",
        "GUNICORN_MAX_REQUESTS": "0",  # keep each worker (and its caches) for the whole run
        "HTMX_SOURCE": "local",
    }
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    out = subprocess.run(
        [*flask, "demo", "--leads", str(leads), "--seed", "3"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    print(out.strip())
    email, password = re.search(r"Sign in as (\S+) with password (\S+)", out).groups()
    return env, email, password


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    env, email, password = prepare(ROOT / "bench" / "data" / "ui.db", args.leads)
    os.environ.update(env)
    print(f"\n{'case':<44}{'p50 ms':>8}{'p99 ms':>8}{'req/s':>8}  under {TARGET_MS} ms")
    with gunicorn("wsgi:app", env) as (base, _):
        cookie = session_cookie(base, email, password)
        for name, path, headers in CASES:
            url = base + path.format(lead_id=args.leads // 2)
            m = measure(url, {"Cookie": cookie, **headers}, args.seconds)
            ok = "yes" if m["p50"] <= TARGET_MS else "NO"
            print(f"{name:<44}{m['p50']:8.2f}{m['p99']:8.2f}{m['rps']:8.0f}  {ok}", flush=True)


if __name__ == "__main__":
    main()
