"""GET /api/openapi.json: the API's OpenAPI 3.1 document, derived from the field catalogue."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Response, jsonify

from app.api import bp, idempotency
from app.api.context import ACCOUNT_HEADER, public
from app.leads.fields import FIELDS, FILTERABLE, SORTABLE, WRITABLE, Field, Kind
from app.leads.query import (
    DEFAULT_PAGE_SIZE,
    MAX_FILTER_VALUES,
    MAX_PAGE_SIZE,
    MAX_SEARCH_LENGTH,
    MAX_SORT_KEYS,
)
from app.leads.validation import DATETIME, EMAIL, PHONE, URL

Schema = dict[str, Any]

# Request strings are trimmed before they are checked, so the patterns allow what Python's
# str.strip() removes around a value (these characters: not the same set as the regex `\s`) and
# state the rules for what is left. A request the schema refuses is refused by the server too;
# rules no regex can state (real dates, email domains) are left to the server and the
# descriptions. Written to mean the same in ECMA-262 and Python regexes.
SPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
CONTROL = r"\x00-\x1f\x7f"  # refused in single-line text
MULTILINE_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"  # tab and line breaks allowed
MAX_COUNTED_REPEAT = 4096
INTEGER = r"[+-]?[0-9]+"
DECIMAL = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
DATE_OR_DATETIME = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:[Zz]|[+-][0-9]{2}:?[0-9]{2}))?"
)
ERROR_TEXT = {
    400: "Invalid input: the problem's `errors` names each field or parameter.",
    401: "Missing, invalid, expired or revoked token.",
    403: "Not allowed: account not yours, role too low, or a read-only token.",
    404: "No such lead in this account.",
    412: "If-Match does not match the lead's current ETag.",
    413: "The body is larger than 1 MiB.",
    415: "The body is not JSON (Content-Type: application/json).",
    422: "The Idempotency-Key was already used with a different body.",
    429: "Too many requests; see Retry-After.",
    503: "The database is unavailable or busy; retry after Retry-After seconds.",
}


@bp.get("/openapi.json")
@public
def openapi() -> Response:
    """The OpenAPI document of this API (public)."""
    return jsonify(document())


def _nullable(schema: Schema, field: Field) -> Schema:
    if field.nullable:
        schema = {**schema, "type": [schema["type"], "null"]}
    return schema


def _value_schema(field: Field, *, request: bool) -> Schema:
    """The JSON schema of one field's value, in a response or in a request body."""
    match field.kind:
        case Kind.INTEGER:
            schema: Schema = {"type": "integer"}
            if field.min_value is not None:
                schema |= {"minimum": field.min_value, "maximum": field.max_value}
        case Kind.MONEY:
            schema = {
                "type": "number",
                "minimum": field.min_value,
                "maximum": field.max_value,
                "description": "Money: at most 2 decimal places, kept exactly.",
            }
        case Kind.BOOLEAN:
            schema = {"type": "boolean"}
        case Kind.DATETIME if request:
            schema = {"type": "string", "pattern": _trimmed(DATE_OR_DATETIME, field)}
            schema["description"] = DATETIME
        case Kind.DATETIME:
            schema = {"type": "string", "format": "date-time"}
        case Kind.ACCOUNT:
            schema = {"type": "string", "pattern": r"^\d+$"}
        case _ if request:
            schema = _input_text_schema(field)
        case _:
            schema = {"type": "string"}
            if field.max_length:
                schema["maxLength"] = field.max_length
            if field.kind is Kind.EMAIL:  # email-validator accepts international addresses
                schema["format"] = "idn-email"
            if field.kind is Kind.URL:  # not "uri": international host names are no URIs
                schema["description"] = "An http:// or https:// URL, as it was entered."
            if field.required:
                schema |= {"minLength": 1, "pattern": r"\S"}
    schema = _nullable(schema, field)
    return {**schema, "title": field.label, "examples": [field.example]}


def _trimmed(core: str, field: Field | None = None) -> str:
    """A pattern for `core` with the spaces trimming removes around it; an optional field also
    takes an empty (or blank) string, which clears it."""
    optional = field is None or not field.required
    return f"^[{SPACE}]*(?:{core}){'?' if optional else ''}[{SPACE}]*$"


def _input_text_schema(field: Field) -> Schema:
    """A text value in a request: its characters, length, and the rule of its kind."""
    limit = field.max_length or 0
    match field.kind:
        case Kind.EMAIL:
            # email-validator decides the rest (dot-atom names, domains): not a regex's job.
            core, rule = f"[^@{SPACE}{CONTROL}]+@[^@{SPACE}{CONTROL}]+", EMAIL
        case Kind.PHONE:
            core, rule = r"\+?[ ().\-]*(?:[0-9][ ().\-]*){7,15}", PHONE
        case Kind.URL:  # the limit counts "http://" too
            core, rule = rf"[Hh][Tt][Tt][Pp][Ss]?://[^ {CONTROL}]{{1,{limit - 7}}}", URL
        case _:
            # The trimmed value: no control characters, at most `limit` characters. Regex
            # engines unroll counted repeats, so a limit beyond a few thousand stays in words.
            control = MULTILINE_CONTROL if field.multiline else CONTROL
            edge = f"[^{SPACE}{control}]"
            repeat = f"{{0,{limit - 2}}}" if limit <= MAX_COUNTED_REPEAT else "*"
            core, rule = f"{edge}(?:[^{control}]{repeat}{edge})?", None
    text = f"At most {limit:,} characters after trimming."
    if rule:
        text = f"{rule} {text}"
    if field.required:
        text += " Required."
    return {"type": "string", "pattern": _trimmed(core, field), "description": text}


def _lead_schema() -> Schema:
    return {
        "type": "object",
        "properties": {f.json: _value_schema(f, request=False) for f in FIELDS},
        "required": [f.json for f in FIELDS],
        "additionalProperties": False,
    }


def _input_schema(*, create: bool) -> Schema:
    schema: Schema = {
        "type": "object",
        "properties": {f.json: _value_schema(f, request=True) for f in WRITABLE},
        "additionalProperties": False,
        "description": "Strings are trimmed; an empty optional string is stored as null; "
        "null clears an optional field. Unknown and read-only fields are refused.",
    }
    if create:
        schema["required"] = [f.json for f in WRITABLE if f.required]
    return schema


def _filter_parameter(field: Field) -> Schema:
    """A filter: text exact (repeatable), numbers and dates exact or `low,high`, booleans."""
    parameter: Schema = {"name": field.json, "in": "query", "required": False}
    if field.is_text:
        items = {"type": "string", "pattern": _trimmed(f"[^{CONTROL}]*")}
        return parameter | {
            "description": f"{field.label}: exact, case-insensitive; repeat for any of several "
            "values; empty matches leads where it is empty.",
            "schema": {"type": "array", "items": items, "maxItems": MAX_FILTER_VALUES},
            "style": "form",
            "explode": True,
        }
    if field.kind is Kind.BOOLEAN:
        schema: Schema = {"type": "string", "enum": ["true", "false", ""]}
        text = "true or false; empty matches leads where it is empty."
    elif field.kind is Kind.DATETIME:
        schema = {"type": "string", "pattern": _range(DATE_OR_DATETIME)}
        text = "one UTC day (2024-03-01), a date-time, or an inclusive range `start,end`."
    else:
        number = INTEGER if field.kind is Kind.INTEGER else DECIMAL
        schema = {"type": "string", "pattern": _range(number)}
        text = "a value, or an inclusive range `low,high` (either end may be empty)."
    return parameter | {"description": f"{field.label}: {text}", "schema": schema}


def _range(value: str) -> str:
    """A filter value: empty, one value, or `low,high` with at most one end empty."""
    given = f"[{SPACE}]*(?:{value})[{SPACE}]*"
    blank = f"[{SPACE}]*"
    return f"^(?:{blank}|{given}|{given},{blank}|{blank},{given}|{given},{given})$"


def _sort_pattern() -> str:
    """Comma-separated sortable fields, each with an optional `-`; spaces around each."""
    key = f"[{SPACE}]*-?(?:{'|'.join(SORTABLE)})[{SPACE}]*"
    return f"^{key}(?:,{key}){{0,{MAX_SORT_KEYS - 1}}}$"


def _list_parameters() -> list[Schema]:
    sortable = ", ".join(SORTABLE)
    return [
        {"$ref": "#/components/parameters/AccountId"},
        {
            "name": "page",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "default": 1},
        },
        {
            "name": "pageSize",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_PAGE_SIZE,
                "default": DEFAULT_PAGE_SIZE,
            },
        },
        {
            "name": "search",
            "in": "query",
            "description": "Words that must each appear (any case) in some text field.",
            "schema": {"type": "string", "maxLength": MAX_SEARCH_LENGTH},
        },
        {
            "name": "sort",
            "in": "query",
            "description": f"Comma-separated fields, `-` for descending, each at most once "
            f"and at most {MAX_SORT_KEYS}. Sortable: {sortable}.",
            "schema": {"type": "string", "pattern": _sort_pattern(), "default": "-createdAt"},
        },
        {
            "name": "archived",
            "in": "query",
            "schema": {"type": "string", "enum": ["true", "false"], "default": "false"},
        },
        *(_filter_parameter(f) for f in FILTERABLE.values()),
    ]


def _errors(*codes: int) -> dict[str, Schema]:
    return {str(code): {"$ref": f"#/components/responses/E{code}"} for code in (*codes, 503)}


def _lead_response(description: str, *, with_audit: bool = False) -> Schema:
    schema = "LeadWithAuditLog" if with_audit else "Lead"
    return {
        "description": description,
        "headers": {"ETag": {"$ref": "#/components/headers/ETag"}},
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _body(schema: str) -> Schema:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


LEAD_ID = {"$ref": "#/components/parameters/LeadId"}
ACCOUNT = {"$ref": "#/components/parameters/AccountId"}
IF_MATCH = {"$ref": "#/components/parameters/IfMatch"}


def _paths() -> Schema:
    lead_params = [LEAD_ID, ACCOUNT]
    archive_errors = _errors(400, 401, 403, 404, 412, 429)
    return {
        "/api/leads": {
            "get": {
                "operationId": "listLeads",
                "summary": "List leads",
                "parameters": _list_parameters(),
                "responses": {
                    "200": {
                        "description": "A page of leads.",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/LeadList"}
                            }
                        },
                    },
                    **_errors(400, 401, 403, 429),
                },
            },
            "post": {
                "operationId": "createLead",
                "summary": "Create a lead",
                "parameters": [ACCOUNT, {"$ref": "#/components/parameters/IdempotencyKey"}],
                "requestBody": _body("LeadCreate"),
                "responses": {
                    "201": _lead_response("The new lead.")
                    | {
                        "headers": {
                            "ETag": {"$ref": "#/components/headers/ETag"},
                            "Location": {
                                "description": "The lead's URL.",
                                "schema": {"type": "string"},
                            },
                            idempotency.REPLAYED_HEADER: {
                                "description": "`true` when this is the stored first response "
                                "to the request's Idempotency-Key.",
                                "schema": {"type": "string", "enum": ["true"]},
                            },
                        }
                    },
                    **_errors(400, 401, 403, 413, 415, 422, 429),
                },
            },
        },
        "/api/leads/{leadId}": {
            "get": {
                "operationId": "getLead",
                "summary": "Get a lead with its audit log",
                "parameters": lead_params,
                "responses": {
                    "200": _lead_response("The lead.", with_audit=True),
                    **_errors(400, 401, 403, 404, 429),
                },
            },
            "patch": {
                "operationId": "updateLead",
                "summary": "Change some fields of a lead",
                "parameters": [*lead_params, IF_MATCH],
                "requestBody": _body("LeadPatch"),
                "responses": {
                    "200": _lead_response("The updated lead."),
                    **_errors(400, 401, 403, 404, 412, 413, 415, 429),
                },
            },
            "delete": {
                "operationId": "deleteLead",
                "summary": "Delete a lead permanently",
                "parameters": [*lead_params, IF_MATCH],
                "responses": {"204": {"description": "Deleted."}, **archive_errors},
            },
        },
        "/api/leads/{leadId}/archive": {
            "post": {
                "operationId": "archiveLead",
                "summary": "Archive a lead (idempotent)",
                "parameters": [*lead_params, IF_MATCH],
                "responses": {"200": _lead_response("The archived lead."), **archive_errors},
            },
            "delete": {
                "operationId": "unarchiveLead",
                "summary": "Restore a lead from the archive (idempotent)",
                "parameters": [*lead_params, IF_MATCH],
                "responses": {"200": _lead_response("The restored lead."), **archive_errors},
            },
        },
        "/api/auth/login": {
            "post": {
                "operationId": "login",
                "summary": "Sign in: a session token for an email and password",
                "security": [],
                "requestBody": _body("Login"),
                "responses": {
                    "200": _session_response(),
                    **_errors(400, 401, 403, 413, 415, 429),
                },
            }
        },
        "/api/auth/session": {
            "get": {
                "operationId": "getSession",
                "summary": "The token's user, accounts and expiry",
                "responses": {"200": _session_response(), **_errors(400, 401, 403, 429)},
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "400": {"$ref": "#/components/responses/E400"},
                },
            }
        },
    }


def _session_response() -> Schema:
    return {
        "description": "The session.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Session"}}},
    }


def _schemas() -> Schema:
    account = {
        "type": "object",
        "properties": {
            "accountId": {"type": "string", "pattern": r"^\d+$"},
            "accountName": {"type": "string"},
        },
        "required": ["accountId", "accountName"],
        "additionalProperties": False,
    }
    audit_entry = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "event": {
                "type": "string",
                "enum": [
                    "lead_created",
                    "lead_updated",
                    "lead_archived",
                    "lead_unarchived",
                    "lead_deleted",
                ],
            },
            "user": {"type": "string"},
            "apiKey": {"type": ["string", "null"]},
            "data": {
                "type": "object",
                "properties": {
                    "changes": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "array",
                            "minItems": 2,
                            "maxItems": 2,
                        },
                    }
                },
                "required": ["changes"],
            },
            "created": {"type": "string", "format": "date-time"},
            "requestMethod": {"type": ["string", "null"]},
            "requestPath": {"type": ["string", "null"]},
            "requestIpAddress": {"type": ["string", "null"]},
        },
        "required": [
            "id",
            "event",
            "user",
            "apiKey",
            "data",
            "created",
            "requestMethod",
            "requestPath",
            "requestIpAddress",
        ],
    }
    lead = _lead_schema()
    with_audit = {
        **lead,
        "properties": {
            **lead["properties"],
            "auditLog": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}},
        },
        "required": [*lead["required"], "auditLog"],
    }
    return {
        "Lead": lead,
        "LeadWithAuditLog": with_audit,
        "LeadCreate": _input_schema(create=True),
        "LeadPatch": _input_schema(create=False),
        "LeadList": {
            "type": "object",
            "properties": {
                "data": {"type": "array", "items": {"$ref": "#/components/schemas/Lead"}},
                "totalCount": {"type": "integer", "minimum": 0},
                "totalPages": {"type": "integer", "minimum": 0},
                "currentPage": {"type": "integer", "minimum": 1},
            },
            "required": ["data", "totalCount", "totalPages", "currentPage"],
            "additionalProperties": False,
        },
        "AuditEntry": audit_entry,
        "Account": account,
        "Login": {
            "type": "object",
            "properties": {
                "email": {"type": "string", "minLength": 1},
                "password": {"type": "string", "minLength": 1},
            },
            "required": ["email", "password"],
            "additionalProperties": False,
        },
        "Session": {
            "type": "object",
            "properties": {
                "token": {"type": "string"},
                "expiresAt": {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "null for an API token, which does not expire.",
                },
                "primaryAccount": {
                    "anyOf": [{"$ref": "#/components/schemas/Account"}, {"type": "null"}]
                },
                "accounts": {"type": "array", "items": {"$ref": "#/components/schemas/Account"}},
            },
            "required": ["token", "expiresAt", "primaryAccount", "accounts"],
            "additionalProperties": False,
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
            "required": ["type", "title", "status", "detail"],
        },
    }


def _error_response(code: int) -> Schema:
    response: Schema = {
        "description": ERROR_TEXT[code],
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    if code in (429, 503):
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}
        }
    return response


@cache
def document() -> Schema:
    """The whole OpenAPI document (built once: it only depends on the code)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pulse Leads API",
            "version": "1.0.0",
            "description": "Manage the leads of your sales team. Every error is "
            "`application/problem+json` (RFC 9457). Dates are ISO 8601 in UTC.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A session token from POST /api/auth/login, or an API "
                    "token (starts with `pl_`).",
                }
            },
            "parameters": {
                "LeadId": {
                    "name": "leadId",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                },
                "AccountId": {
                    "name": ACCOUNT_HEADER,
                    "in": "header",
                    "required": False,
                    "description": "Act in this account of yours instead of the primary one.",
                    "schema": {"type": "string", "pattern": r"^\d{1,20}$"},
                },
                "IdempotencyKey": {
                    "name": idempotency.HEADER,
                    "in": "header",
                    "required": False,
                    "description": "Any unique string per intended lead (a UUID, say): a retry "
                    "with the same key and body within 24 hours gets the first response again "
                    f"(with `{idempotency.REPLAYED_HEADER}: true`) and creates nothing; the same "
                    "key with another body is refused (422). Keys belong to your account and "
                    "token.",
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 255,
                        "pattern": idempotency.KEY_PATTERN,
                    },
                },
                "IfMatch": {
                    "name": "If-Match",
                    "in": "header",
                    "required": False,
                    "description": "The lead's ETag as last read; 412 if it changed since.",
                    "schema": {"type": "string"},
                },
            },
            "headers": {
                "ETag": {"description": "The lead's version.", "schema": {"type": "string"}}
            },
            "schemas": _schemas(),
            "responses": {f"E{code}": _error_response(code) for code in ERROR_TEXT},
        },
    }
