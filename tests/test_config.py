"""Settings that would make the app unsafe stop it from starting, with a message that says how
to put them right."""

from __future__ import annotations

import pytest

from app import create_app

LONG_KEY = "k" * 32


def production(**settings: object) -> dict[str, object]:
    """Settings of an app that is neither in debug nor in testing mode."""
    return {"TESTING": False, "DEBUG": False, "SQLALCHEMY_DATABASE_URI": "sqlite://", **settings}


@pytest.mark.parametrize("key", ["a", "short-but-not-empty", "x" * 31])
def test_a_secret_key_under_32_characters_stops_the_app_outside_debug(key):
    with pytest.raises(RuntimeError) as refused:
        create_app(production(SECRET_KEY=key))
    message = str(refused.value)
    assert "SECRET_KEY is too short" in message and "at least 32 characters" in message
    assert "secrets.token_hex(32)" in message  # how to make a good one
    assert len(key) == 1 or key not in message  # never echoed


def test_a_missing_secret_key_stops_the_app_outside_debug():
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app(production(SECRET_KEY=None))


def test_a_long_secret_key_starts_the_app_and_debug_accepts_a_short_one():
    assert create_app(production(SECRET_KEY=LONG_KEY)).secret_key == LONG_KEY
    assert create_app(production(SECRET_KEY="a", DEBUG=True)).secret_key == "a"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INVITATION_DAYS", 0),
        ("INVITATION_DAYS", "7"),
        ("DATABASE_STATEMENT_TIMEOUT", -1),
        ("HEALTHZ_TIMEOUT", 0),
    ],
)
def test_bad_timeouts_and_lifetimes_stop_the_app(name, value):
    with pytest.raises(RuntimeError, match=name):
        create_app(production(SECRET_KEY=LONG_KEY, **{name: value}))
