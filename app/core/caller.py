"""Who is calling, as services see it: the types a request's caller dependency builds
(`app.core.auth`) and the system caller jobs and commands act as.

Plain data, no FastAPI: a service, a task and a test build and read these the same way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.core.scope import Scope


class Role(StrEnum):
    villager = "villager"
    coordinator = "coordinator"
    manager = "manager"
    admin = "admin"


class AccountKind(StrEnum):
    person = "person"  # logs in with WeChat or a password
    client = "client"  # a county API client: client-credentials grant only


# The role the audit log records for what no account did: jobs, commands.
SYSTEM_ROLE = "system"


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """The `user_account` columns requests use, of the caller, as read for this request
    (what `auth.service.user_out` shows and what services read of the caller)."""

    id: uuid.UUID
    kind: str
    role: str
    username: str | None
    display_name: str
    phone_cipher: bytes | None
    wechat_openid: str | None
    member_id: uuid.UUID | None
    is_active: bool
    tokens_valid_after: datetime | None


# The system has no account row; this stands in for one. Its id (the nil UUID) belongs to no
# account, so the system cannot be recorded as the author of a row (`created_by` and the like):
# the audit log records it as `system` with no actor id instead.
_SYSTEM_ACCOUNT = AccountSnapshot(
    id=uuid.UUID(int=0),
    kind=SYSTEM_ROLE,
    role=Role.admin,
    username=None,
    display_name="系统",
    phone_cipher=None,
    wechat_openid=None,
    member_id=None,
    is_active=True,
    tokens_valid_after=None,
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted and from where, as an audit event records it."""

    user_id: uuid.UUID | None
    role: str
    request_id: str | None = None
    client_address: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a snapshot of the account read once per request (not an ORM object:
    services that change the account load it into their session), its regions, and where the
    request came from, for the audit log."""

    user: AccountSnapshot
    region_codes: tuple[str, ...]
    request_id: str | None = None
    client_address: str | None = None

    @classmethod
    def system(cls, job: str) -> Principal:
        """The caller of a job or command: sees everything (an admin's scope) and is audited
        as `system`, with `job` (e.g. `jobs.close_expired`) as the request id."""
        return cls(user=_SYSTEM_ACCOUNT, region_codes=(), request_id=job)

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def role(self) -> Role:
        return Role(self.user.role)

    @property
    def is_system(self) -> bool:
        return self.user is _SYSTEM_ACCOUNT

    @property
    def scope(self) -> Scope:
        if self.role is Role.admin:
            return Scope.everything()
        if self.role in (Role.manager, Role.coordinator):
            return Scope.of_regions(self.region_codes)
        return Scope.nothing()

    @property
    def actor(self) -> Actor:
        """Who the audit log names for what this caller does."""
        if self.is_system:
            return Actor(user_id=None, role=SYSTEM_ROLE, request_id=self.request_id)
        return Actor(
            user_id=self.user.id,
            role=self.user.role,
            request_id=self.request_id,
            client_address=self.client_address,
        )
