"""What each role of an account membership may do; enforced by the domain layer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.models import Role


class Permission(StrEnum):
    READ = "read leads"
    WRITE = "create, edit and archive leads"
    DELETE = "delete leads permanently"
    MANAGE = "manage members and API tokens"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.MEMBER: frozenset({Permission.READ, Permission.WRITE}),
    Role.VIEWER: frozenset({Permission.READ}),
}


class Forbidden(Exception):
    """The actor's role (or read-only token) does not allow the action."""


@dataclass(frozen=True)
class Actor:
    """Who acts, with which role, and from where: everything the audit log records."""

    email: str
    role: Role
    api_key: str | None = None  # the name of the API token used, if any
    read_only: bool = False  # a read-only API token
    method: str | None = None
    path: str | None = None
    ip: str | None = None

    def can(self, permission: Permission) -> bool:
        if self.read_only and permission is not Permission.READ:
            return False
        return permission in ROLE_PERMISSIONS[Role(self.role)]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            who = "this API token" if self.read_only else f"the {self.role} role"
            raise Forbidden(f"Not allowed for {who}: {permission}.")
