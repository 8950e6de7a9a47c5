"""What the schemathesis tests share."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from schemathesis.core.mutations import OperatorKind
from schemathesis.generation.meta import ParameterLocation


def valid_as_sent(case: Any, headers: dict[str, str]) -> bool:
    """Whether every mutation that made a case "negative" is undone on its way to the server.

    schemathesis already forgives each of these alone, not together: a removed Authorization
    header that this test sends anyway, and a query value of another JSON type whose text
    (`false`, `5`) is a valid value of the parameter, since a query string holds only text.
    """
    mutations = getattr(getattr(case.meta, "phase", None), "data", None)
    mutations = getattr(mutations, "mutations", ())
    if not mutations:
        return False
    sent_headers = {name.lower() for name in headers}
    parameters = {
        p["name"]: p["schema"]
        for p in case.operation.definition.raw.get("parameters", [])
        if p.get("in") == "query"
    }
    for mutation in mutations:
        where, name = mutation.parameter_location, mutation.parameter or ""
        if where == ParameterLocation.HEADER and name.lower() in sent_headers:
            continue
        if (
            where == ParameterLocation.QUERY
            and mutation.operator == OperatorKind.CHANGE_TYPE
            and name in parameters
            and _text_is_valid((case.query or {}).get(name), parameters[name])
        ):
            continue
        return False
    return True


def _text_is_valid(value: Any, parameter_schema: dict[str, Any]) -> bool:
    """Whether a query value, as the text it goes out as, is a valid value of the parameter."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, dict):
        # schemathesis sends {} as an empty value; werkzeug's test client writes any other
        # object as its Python text ("{'a': 1}"), which a text filter takes like any words.
        value = str(value) if value else ""
    elif isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return False
    sent = [value] if parameter_schema.get("type") == "array" else value
    return Draft202012Validator(parameter_schema).is_valid(sent)
