"""Realistic, varied demo leads, inserted in bulk (100,000 in seconds)."""

from __future__ import annotations

import itertools
import random
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select, update

from app.database import begin_write
from app.extensions import db
from app.leads import bulk
from app.models import Account, Lead


def _items(text: str) -> tuple[str, ...]:
    """Comma-separated items of a multi-line string."""
    return tuple(item.strip() for item in text.replace("\n", " ").split(",") if item.strip())


FIRST_NAMES = _items("""
    Ana, Ben, Carla, Dmitri, Elena, Farid, Grace, Hiro, Ines, Jonas, Kara, Liam, Maya, Nils, Olga,
    Pedro, Quinn, Rosa, Sami, Tara, Umar, Vera, Wen, Ximena, Yusuf, Zoe, Amara, Bruno, Chloe, Diego,
    Emma, Felix, Giulia, Hannah, Ivan, Julia, Kenji, Lena, Marco, Nora, Oscar, Priya, Rafael, Sofia,
    Tomas, Uma, Victor, Willa, Yara, Zane, Aisha, Bjorn, Clara, David, Eva, Frank, Gemma, Hugo,
    Iris, Jack, Kim, Lucas, Mia, Noah, Olivia, Paul, Rita, Sean, Tess, Ugo, Valentina, Will, Xavier,
    Yasmin, Zara, John, Mary, Chen, Fatima, José, Zoë, Łukasz, Søren, Anaïs
""")
LAST_NAMES = _items("""
    Smith, Johnson, Garcia, Müller, Rossi, Kowalski, Nguyen, Tanaka, Silva, Okafor, Dubois, Jensen,
    Novak, Ivanova, Haddad, Patel, Kim, Costa, Andersson, Schmidt, Moreau, Fischer, Lopez, Martin,
    Brown, Wilson, Taylor, Clark, Lewis, Walker, Young, King, Wright, Scott, Green, Baker, Adams,
    Nelson, Hill, Campbell, Mitchell, Roberts, Carter, Phillips, Evans, Turner, Torres, Parker,
    Collins, Edwards, Stewart, Flores, Morris, Murphy, Cook, Rogers, Morgan, Peterson, Cooper, Reed,
    Bailey, Bell, Gomez, Kelly, Howard, Ward, Cox, Diaz, Richardson, Wood, Watson, Brooks, Bennett,
    Gray, James, Reyes, Doe, O'Brien, van der Berg, Álvarez, Öztürk
""")
COMPANY_WORDS = _items("""
    Acme, Globex, Initech, Umbrella, Stark, Wayne, Hooli, Vandelay, Soylent, Tyrell, Cyberdyne,
    Wonka, Nimbus, Vertex, Apex, Summit, Harbor, Pioneer, Beacon, Atlas, Orbit, Cedar, Maple, River,
    Granite, Blue, Red, North, Silver, Golden, Bright, Swift, Clear, Prime, Nova, Terra, Lumen,
    Quantum, Polar
""")
COMPANY_SUFFIXES = _items("""
    Inc, LLC, GmbH, Ltd, Labs, Group, Systems, Foods, Logistics, Health, Retail, Studios
""")
JOB_TITLES = _items("""
    CEO, CTO, CFO, COO, Head of Sales, VP Engineering, Finance Manager, Operations Lead,
    Procurement Officer, Owner, Founder, Product Manager, IT Director, Payments Lead, Controller
""")
POSITIONS = _items("Executive, Management, Finance, Engineering, Operations, Purchasing, Sales, IT")
BRANCHES = _items("""
    Technology, Retail, Hospitality, Healthcare, Education, Manufacturing, Logistics, Finance,
    E-commerce, Travel, Food & Beverage, Real Estate
""")
SOURCES = _items("""
    Website, Referral, Trade Show, Cold Call, LinkedIn, Partner, Webinar, Email Campaign
""")
STAGES = _items("""
    New, Initial Contact, Qualified, Demo Scheduled, Proposal Sent, Negotiation, Won, Lost
""")
STAGE_WEIGHTS = (14, 22, 18, 12, 10, 8, 8, 8)
BUYING_ROLES = _items("""
    Decision Maker, Influencer, Champion, Economic Buyer, End User, Gatekeeper
""")
PROCESSORS = _items("Stripe, Adyen, PayPal, Square, Worldpay, Braintree, Checkout.com, Mollie")
LOCATIONS = (
    "New York, NY",
    "San Francisco, CA",
    "Austin, TX",
    "Chicago, IL",
    "Seattle, WA",
    "London, UK",
    "Berlin, Germany",
    "Paris, France",
    "Madrid, Spain",
    "Amsterdam, Netherlands",
    "Toronto, Canada",
    "Sydney, Australia",
    "Singapore",
    "Tokyo, Japan",
    "São Paulo, Brazil",
    "Zürich, Switzerland",
)
PRODUCTS = _items("""
    Online courses, Subscription boxes, B2B software, Event tickets, Handmade furniture,
    Coffee and pastries, Travel packages, Fitness memberships, Spare parts, Consulting
""")
NOTES = (
    "Asked for a demo next week.",
    "Wants pricing for 3 locations.",
    "Follow up after budget review.",
    "Met at the trade show, very interested.",
    "Currently locked in a contract until Q3.",
    "Prefers email over calls.",
    "Needs approval from the CFO.",
    "Compare fees with the current provider.",
)
SALES_TEAM = ("ana", "ben", "carla", "dmitri", "elena", "farid")
BULK_THRESHOLD = 20_000  # leads; below this, inserting with the indexes in place is quicker
SPAN_SECONDS = 4 * 365 * 86400
STAGE_CUMULATIVE = tuple(itertools.accumulate(STAGE_WEIGHTS))


def _with_blanks(values: tuple[str, ...] | list[str], blank: float) -> list[str | None]:
    """The values plus enough None entries that one choice is blank with probability `blank`."""
    blanks = round(len(values) * blank / (1 - blank))
    return [*values, *([None] * blanks)]


def demo_rows(account: Account, count: int, seed: int, now: datetime) -> Iterator[dict[str, Any]]:
    """`count` leads for the account, deterministic for a seed, created over four years.

    Written for speed (a million rows in seconds): choices come from precomputed pools.
    """
    rng = random.Random(seed)
    rand, choice = rng.random, rng.choice
    domain = _slug(account.name) or "demo"
    owners = [f"{name}@{domain}.example" for name in SALES_TEAM]
    pools = {
        "location": _with_blanks(LOCATIONS, 0.1),
        "job_title": _with_blanks(JOB_TITLES, 0.1),
        "position": _with_blanks(POSITIONS, 0.3),
        "branch": _with_blanks(BRANCHES, 0.1),
        "products_services_sold": _with_blanks(PRODUCTS, 0.4),
        "source": _with_blanks(SOURCES, 0.05),
        "buying_role": _with_blanks(BUYING_ROLES, 0.3),
        "current_payment_processor": _with_blanks(PROCESSORS, 0.2),
        "assigned_to": _with_blanks(owners, 0.1),
        "notes": _with_blanks(NOTES, 0.5),
    }
    slugs = {name: _slug(name) for name in (*FIRST_NAMES, *LAST_NAMES)}
    now_ts = now.timestamp()
    for _ in range(count):
        first, last = choice(FIRST_NAMES), choice(LAST_NAMES)
        company = f"{choice(COMPANY_WORDS)} {choice(COMPANY_WORDS)} {choice(COMPANY_SUFFIXES)}"
        created_ts = now_ts - SPAN_SECONDS * rand() ** 1.5  # more recent leads than old ones
        contacted_ts = min(now_ts, created_ts + rand() * 90 * 86400)
        row = {name: choice(pool) for name, pool in pools.items()}
        row.update(
            account_id=account.id,
            version=1,
            created_by=choice(owners),
            created_at=_utc(created_ts),
            updated_at=_utc(min(now_ts, created_ts + rand() * 60 * 86400)),
            application_id=None if rand() < 0.7 else f"app-{rng.randrange(10**6)}",
            first_name=first,
            last_name=last,
            img_src=None,
            email=None if rand() < 0.05 else f"{slugs[first]}.{slugs[last]}@{_slug(company)}.com",
            phone=None if rand() < 0.15 else _phone(rng),
            company=None if rand() < 0.05 else company,
            number_of_employees=None if rand() < 0.2 else int(10 ** (rand() * 4.5)),
            process_stage=rng.choices(STAGES, cum_weights=STAGE_CUMULATIVE)[0],
            monthly_transaction_volume=(
                None if rand() < 0.2 else Decimal(rng.randrange(100_000, 500_000_000)).scaleb(-2)
            ),
            interested_in_switching=choice((True, False, None)),
            last_contacted=None if rand() < 0.25 else _utc(contacted_ts),
            archived=rand() < 0.1,
        )
        yield row


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def demo_admin_email(account: Account) -> str:
    return f"admin@{_slug(account.name) or 'demo'}.example"


def _maybe(rng: random.Random, choices: list[str] | tuple[str, ...], empty: float) -> str | None:
    return None if rng.random() < empty else rng.choice(choices)


@lru_cache(maxsize=65_536)
def _slug(text: str) -> str:
    """Lower-case ASCII letters and digits of a name ("Müller" → "muller")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_text.lower() if c.isalnum())


def _phone(rng: random.Random) -> str:
    return f"+1 {rng.randrange(200, 999)} {rng.randrange(200, 999)} {rng.randrange(1000, 9999)}"


def add_demo_leads(account: Account, count: int, seed: int | None = None) -> None:
    """Insert `count` demo leads and bring the account's counts up to date.

    Large loads set the indexes aside and rebuild them once at the end (much faster than
    maintaining them row by row).
    """
    now = datetime.now(UTC)
    rows = demo_rows(account, count, seed if seed is not None else random.randrange(2**32), now)
    begin_write()
    if count >= BULK_THRESHOLD:
        with bulk.set_aside_indexes():
            bulk.insert_leads(rows)
    else:
        bulk.insert_leads(rows)
    recount(account)
    db.session.commit()
    if count >= BULK_THRESHOLD:
        bulk.refresh_statistics()


def recount(account: Account) -> None:
    """Set the account's live and archived counts from the leads table."""
    counts = dict(
        db.session.execute(
            select(Lead.archived, func.count())
            .where(Lead.account_id == account.id)
            .group_by(Lead.archived)
        ).all()
    )
    db.session.execute(
        update(Account)
        .where(Account.id == account.id)
        .values(
            live_leads=counts.get(False, 0),
            archived_leads=counts.get(True, 0),
            data_version=Account.data_version + 1,
        )
    )
