"""A lead's audit log as sentences people read: "Ana changed Stage from New to Qualified"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from app.leads.fields import BY_JSON
from app.leads.service import Event
from app.models import AuditRow
from app.web.format import display, person

MAX_VALUE_LENGTH = 80
VERBS = {
    Event.CREATED: "created this lead",
    Event.ARCHIVED: "archived this lead",
    Event.UNARCHIVED: "restored this lead from the archive",
    Event.DELETED: "deleted this lead",
}


@dataclass(frozen=True)
class Entry:
    who: str
    email: str
    headline: str  # "created this lead", or "changed 2 fields"
    changes: list[str]  # one sentence per changed field
    when: datetime
    api_key: str | None


def _value(json_name: str, value: object) -> str:
    field = BY_JSON.get(json_name)
    text = display(field, value) if field else str(value)
    return text if len(text) <= MAX_VALUE_LENGTH else text[: MAX_VALUE_LENGTH - 1] + "…"


def describe_change(json_name: str, old: object, new: object) -> str:
    field = BY_JSON.get(json_name)
    label = field.label if field else json_name
    if old is None:
        return f"set {label} to {_value(json_name, new)}"
    if new is None:
        return f"cleared {label} (was {_value(json_name, old)})"
    return f"changed {label} from {_value(json_name, old)} to {_value(json_name, new)}"


def entries(events: Sequence[AuditRow]) -> list[Entry]:
    """The timeline, newest first."""
    result = []
    for event in reversed(events):
        changes = event.data.get("changes", {})
        sentences = (
            [describe_change(k, old, new) for k, (old, new) in changes.items()]
            if event.event == Event.UPDATED
            else []
        )
        headline = VERBS.get(event.event, event.event)
        if event.event == Event.UPDATED:
            headline = sentences.pop(0) if len(sentences) == 1 else "made these changes:"
        result.append(
            Entry(
                who=person(event.user_email),
                email=event.user_email,
                headline=headline,
                changes=sentences,
                when=event.created,
                api_key=event.api_key_name,
            )
        )
    return result
