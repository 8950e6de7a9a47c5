"""The lead field catalogue: the one place that lists the fields of a lead.

The model's columns, request validation, the JSON serializer, the forms, the search, sort and
filter whitelists, the table columns and the OpenAPI schema are all derived from `FIELDS`.
Adding a field is one entry here and one migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    INTEGER = "integer"
    MONEY = "money"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    ACCOUNT = "account"  # the account's public id, not a column of the lead


TEXT_KINDS = frozenset({Kind.TEXT, Kind.EMAIL, Kind.PHONE, Kind.URL})


class Group(StrEnum):
    CONTACT = "Contact"
    COMPANY = "Company"
    SALES = "Sales"
    CRM = "CRM"


@dataclass(frozen=True)
class Field:
    name: str  # Python attribute and column name
    json: str  # camelCase name in the API and in query strings
    label: str  # what people read in the UI and in error messages
    kind: Kind
    group: Group
    required: bool = False
    readonly: bool = False
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None
    multiline: bool = False
    sortable: bool = True
    filterable: bool = True
    in_table: bool = False  # a default column of the lead list
    default: object = None  # the value of a new lead that does not set it
    example: object = None

    @property
    def is_text(self) -> bool:
        return self.kind in TEXT_KINDS

    @property
    def searchable(self) -> bool:
        return self.is_text

    @property
    def writable(self) -> bool:
        return not self.readonly

    @property
    def nullable(self) -> bool:
        """Whether the field may be empty (null); read-only fields are always set."""
        return not (self.required or self.readonly or self.default is not None)


def _text(name: str, json: str, label: str, group: Group, max_length: int, **kw) -> Field:
    return Field(name, json, label, Kind.TEXT, group, max_length=max_length, **kw)


FIELDS: tuple[Field, ...] = (
    Field("id", "id", "ID", Kind.INTEGER, Group.CRM, readonly=True, example=1),
    Field(
        "account",
        "accountId",
        "Account",
        Kind.ACCOUNT,
        Group.CRM,
        readonly=True,
        sortable=False,
        filterable=False,
        example="48213907",
    ),
    _text("application_id", "applicationId", "Application ID", Group.CRM, 64, example="app-7"),
    _text(
        "first_name",
        "firstName",
        "First name",
        Group.CONTACT,
        100,
        required=True,
        in_table=True,
        example="John",
    ),
    _text(
        "last_name",
        "lastName",
        "Last name",
        Group.CONTACT,
        100,
        required=True,
        in_table=True,
        example="Doe",
    ),
    Field(
        "img_src",
        "imgSrc",
        "Picture URL",
        Kind.URL,
        Group.CONTACT,
        max_length=2048,
        sortable=False,
        example="https://example.com/john.jpg",
    ),
    Field(
        "email",
        "email",
        "Email",
        Kind.EMAIL,
        Group.CONTACT,
        max_length=254,
        in_table=True,
        example="john.doe@example.com",
    ),
    Field(
        "phone",
        "phone",
        "Phone",
        Kind.PHONE,
        Group.CONTACT,
        max_length=40,
        example="+1 555 555 5555",
    ),
    _text("location", "location", "Location", Group.CONTACT, 200, example="New York, NY"),
    _text("company", "company", "Company", Group.COMPANY, 200, in_table=True, example="Acme Inc"),
    _text("job_title", "jobTitle", "Job title", Group.COMPANY, 200, example="CTO"),
    _text("position", "position", "Position", Group.COMPANY, 200, example="Engineering"),
    _text("branch", "branch", "Branch", Group.COMPANY, 200, example="Technology"),
    Field(
        "number_of_employees",
        "numberOfEmployees",
        "Number of employees",
        Kind.INTEGER,
        Group.COMPANY,
        min_value=0,
        max_value=10_000_000,
        example=250,
    ),
    _text(
        "products_services_sold",
        "productsServicesSold",
        "Products and services sold",
        Group.COMPANY,
        1_000,
        multiline=True,
        sortable=False,
        example="Online courses",
    ),
    _text("source", "source", "Source", Group.SALES, 100, in_table=True, example="Website"),
    _text(
        "process_stage",
        "processStage",
        "Process stage",
        Group.SALES,
        100,
        in_table=True,
        example="Initial Contact",
    ),
    _text("buying_role", "buyingRole", "Buying role", Group.SALES, 100, example="Decision Maker"),
    _text(
        "current_payment_processor",
        "currentPaymentProcessor",
        "Current payment processor",
        Group.SALES,
        200,
        example="Stripe",
    ),
    Field(
        "monthly_transaction_volume",
        "monthlyTransactionVolume",
        "Monthly transaction volume",
        Kind.MONEY,
        Group.SALES,
        min_value=0,
        max_value=10_000_000_000_000,
        example=125000.5,
    ),
    Field(
        "interested_in_switching",
        "interestedInSwitching",
        "Interested in switching",
        Kind.BOOLEAN,
        Group.SALES,
        example=True,
    ),
    Field(
        "assigned_to",
        "assignedTo",
        "Assigned to",
        Kind.EMAIL,
        Group.CRM,
        max_length=254,
        in_table=True,
        example="ana@pulse.example",
    ),
    Field(
        "last_contacted",
        "lastContacted",
        "Last contacted",
        Kind.DATETIME,
        Group.CRM,
        in_table=True,
        example="2023-06-15T14:30:00.000Z",
    ),
    _text(
        "notes",
        "notes",
        "Notes",
        Group.CRM,
        10_000,
        multiline=True,
        sortable=False,
        example="Asked for a demo next week.",
    ),
    Field(
        "archived",
        "archived",
        "Archived",
        Kind.BOOLEAN,
        Group.CRM,
        sortable=False,
        filterable=False,
        default=False,
        example=False,
    ),
    Field(
        "created_by",
        "createdBy",
        "Created by",
        Kind.EMAIL,
        Group.CRM,
        readonly=True,
        max_length=254,
        example="ana@pulse.example",
    ),
    Field(
        "created_at",
        "createdAt",
        "Created",
        Kind.DATETIME,
        Group.CRM,
        readonly=True,
        in_table=True,
        example="2023-06-01T09:00:00.000Z",
    ),
    Field(
        "updated_at",
        "updatedAt",
        "Updated",
        Kind.DATETIME,
        Group.CRM,
        readonly=True,
        example="2023-06-15T14:30:00.000Z",
    ),
)

BY_JSON: dict[str, Field] = {f.json: f for f in FIELDS}
BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}

WRITABLE: tuple[Field, ...] = tuple(f for f in FIELDS if f.writable)
# The writable fields are the lead's own columns; read-only ones are kept by the model itself.
COLUMNS: tuple[Field, ...] = WRITABLE
SEARCHABLE: tuple[Field, ...] = tuple(f for f in FIELDS if f.searchable)
SORTABLE: dict[str, Field] = {f.json: f for f in FIELDS if f.sortable}
FILTERABLE: dict[str, Field] = {f.json: f for f in FIELDS if f.filterable}
TABLE_COLUMNS: tuple[Field, ...] = tuple(f for f in FIELDS if f.in_table)
REQUIRED: tuple[Field, ...] = tuple(f for f in FIELDS if f.required)


def grouped(fields: tuple[Field, ...] = FIELDS) -> dict[Group, list[Field]]:
    """The fields by detail-page group, in catalogue order."""
    groups: dict[Group, list[Field]] = {g: [] for g in Group}
    for f in fields:
        groups[f.group].append(f)
    return groups
