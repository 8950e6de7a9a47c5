"""Load the benchmark data set: one account of 1,000,000 leads and 9 accounts of 10,000.

    python bench/load.py --sqlite bench/data/bench.db --postgres postgresql://postgres@127.0.0.1/pulse_bench

Each database is created afresh through the migrations, then filled through the app's bulk
path (app/leads/bulk.py: indexes set aside and rebuilt once). It writes
bench/data/setup-<database>.json with what bench/run.py needs (database URL, an API token, a
sign-in, search terms) and prints how long each step took.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.auth.accounts import add_member, create_user, get_or_create_account  # noqa: E402
from app.auth.tokens import create_api_token  # noqa: E402
from app.database import begin_write  # noqa: E402
from app.demo import demo_rows, recount  # noqa: E402
from app.extensions import db  # noqa: E402
from app.leads import bulk, query  # noqa: E402
from app.models import Lead, Role  # noqa: E402

BIG, SMALL, SMALL_ACCOUNTS = 1_000_000, 10_000, 9
PASSWORD = "bench password 4 pulse"
DATA = ROOT / "bench" / "data"
SEARCH_CANDIDATES = ("ber", "tech", "son", "mar", "acme", "north", "stark", "ann", "lin", "ros")


def fresh_database(url: str) -> None:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return
    server = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    server.dispose()


def step(name: str, started: float) -> float:
    now = time.perf_counter()
    print(f"  {name:<44} {now - started:7.1f} s", flush=True)
    return now


def load(url: str, name: str) -> dict[str, object]:
    print(f"{name}: {url}", flush=True)
    t0 = t = time.perf_counter()
    fresh_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": os.environ["SECRET_KEY"]})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        t = step("schema (migrations)", t)
        big, _ = get_or_create_account("Big")
        smalls = [get_or_create_account(f"Small {n}")[0] for n in range(1, SMALL_ACCOUNTS + 1)]
        user = create_user("bench@pulse.example", PASSWORD)
        add_member(user, big, Role.ADMIN)
        for account in smalls:
            add_member(user, account, Role.ADMIN)
        _, token = create_api_token(user, big, "bench")
        db.session.commit()
        now = datetime.now(UTC)
        begin_write()
        with bulk.set_aside_indexes():
            inserted = bulk.insert_leads(demo_rows(big, BIG, seed=1, now=now))
            for n, account in enumerate(smalls, start=2):
                inserted += bulk.insert_leads(demo_rows(account, SMALL, seed=n, now=now))
            t = step(f"insert {inserted:,} leads", t)
        t = step("build indexes and search index", t)
        for account in (big, *smalls):
            recount(account)
        db.session.commit()
        bulk.refresh_statistics()
        t = step("counts and planner statistics", t)
        terms = search_terms(big)
        t = step("choose search terms", t)
        some_id = db.session.scalar(
            sa.select(sa.func.max(Lead.id)).where(Lead.account_id == big.id)
        )
        db.engine.dispose()
    step("total", t0)
    return {
        "database": name,
        "url": url,
        "token": token,
        "email": "bench@pulse.example",
        "password": PASSWORD,
        "lead_id": some_id,
        **terms,
    }


def search_terms(account) -> dict[str, object]:
    """A term matching about 15 % of the account's live leads, and a rare one."""
    live = account.live_leads
    best = None
    for term in SEARCH_CANDIDATES:
        n = query.count(account, query.ListQuery(search=term))
        if best is None or abs(n / live - 0.15) < abs(best[1] / live - 0.15):
            best = (term, n)
    app_id = db.session.scalar(
        sa.select(Lead.application_id)
        .where(Lead.account_id == account.id, Lead.application_id.isnot(None))
        .order_by(Lead.id.desc())
        .limit(1)
    )
    rare = app_id
    return {
        "common_term": best[0],
        "common_share": round(best[1] / live, 3),
        "rare_term": rare,
        "rare_matches": query.count(account, query.ListQuery(search=rare)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", help="SQLite file to create, e.g. bench/data/bench.db")
    parser.add_argument("--postgres", help="PostgreSQL URL of a database to (re)create")
    args = parser.parse_args()
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789abcdef0123")
    DATA.mkdir(parents=True, exist_ok=True)
    targets = []
    if args.sqlite:
        targets.append((f"sqlite:///{Path(args.sqlite).resolve()}", "sqlite"))
    if args.postgres:
        targets.append((args.postgres, "postgresql"))
    if not targets:
        parser.error("give --sqlite and/or --postgres")
    for url, name in targets:
        setup = load(url, name)
        (DATA / f"setup-{name}.json").write_text(json.dumps(setup, indent=2))
        print(f"  wrote bench/data/setup-{name}.json", flush=True)


if __name__ == "__main__":
    main()
