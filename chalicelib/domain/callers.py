"""Who is calling: taken from the verified token's claims, never from a request body."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.errors import Forbidden

OWNER, OFFICE, TECHNICIAN = "owner", "office", "technician"
STAFF = (OWNER, OFFICE)
ANYONE = (OWNER, OFFICE, TECHNICIAN)


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    user_id: str
    role: str

    @property
    def is_technician(self) -> bool:
        return self.role == TECHNICIAN

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden(f"role '{self.role}' may not do this")


SYSTEM = "system"
CUSTOMER = "customer"
