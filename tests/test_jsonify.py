"""JSON responses written by orjson say exactly what Flask's own encoder says."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask.json.provider import DefaultJSONProvider

from app import create_app
from app.jsonify import OrjsonProvider
from tests.conftest import test_config as config_for


@dataclass
class Point:
    x: int
    y: str


VALUES = [
    {"name": "Zoë", "emoji": "🙂", "quote": '"</script>'},
    {"when": datetime(2024, 3, 1, 10, 0, tzinfo=UTC), "day": date(2024, 3, 1)},
    {"amount": Decimal("12.50"), "id": uuid.UUID(int=7), "point": Point(1, "a")},
    {"big": 2**70, "negative": -(2**80)},  # beyond orjson's 64-bit integers
    {1: "int key", "nested": [{"a": None, "b": True}, 1.5]},
]


@pytest.fixture(scope="module")
def providers():
    app = create_app(config_for("sqlite://"))
    standard = DefaultJSONProvider(app)
    standard.sort_keys = False  # as the app had it before orjson
    return app.json, standard


@pytest.mark.parametrize("value", VALUES)
def test_same_json_as_flasks_encoder(providers, value):
    fast, standard = providers
    assert isinstance(fast, OrjsonProvider)
    expected = json.loads(standard.dumps(value))
    assert json.loads(fast.dumps(value)) == expected
    response = fast.response(value)
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data()) == expected


def test_keys_keep_their_order(providers):
    fast, _ = providers
    assert fast.dumps({"b": 1, "a": 2, "c": 3}) == '{"b":1,"a":2,"c":3}'
