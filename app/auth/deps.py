"""Who is calling: the bearer token checked, the account loaded, roles and scope derived."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param

from app.audit.service import Actor
from app.auth import callers
from app.auth.callers import PRINCIPAL_COLUMNS, AccountSnapshot
from app.auth.models import AccountKind, Role
from app.core.config import Settings
from app.core.errors import Forbidden, InvalidToken, TokenExpired, Unauthorized, problem_responses
from app.core.logging import request_id_var
from app.core.scope import Scope
from app.core.security import decode_access_token

# Documented on every router whose operations need a signed-in caller.
AUTHENTICATED_RESPONSES = problem_responses(Unauthorized, InvalidToken, TokenExpired)

bearer = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    auto_error=False,
    description="Access JWT from any of the login endpoints.",
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, as read once per request: a snapshot of the account, not an ORM object
    (services that change the account load it into their session)."""

    user: AccountSnapshot
    region_codes: tuple[str, ...]

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def role(self) -> Role:
        return Role(self.user.role)

    @property
    def is_client(self) -> bool:
        return self.user.kind == AccountKind.client

    @property
    def scope(self) -> Scope:
        if self.role is Role.admin:
            return Scope.everything()
        if self.role in (Role.manager, Role.coordinator):
            return Scope.of_regions(self.region_codes)
        return Scope.nothing()


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


AppSettings = Annotated[Settings, Depends(get_settings_dep)]


async def get_principal(
    request: Request, token: Annotated[str | None, Depends(bearer)]
) -> Principal:
    """The caller's account: one autocommit query read with the driver directly (no
    BEGIN/COMMIT, no ORM), shared with the reads of concurrent requests
    (`callers.AccountReader`)."""
    return await read_principal(request, token)


async def read_principal(request: Request, token: str | None) -> Principal:
    """`get_principal` without FastAPI: for the hot paths that resolve their caller
    themselves (`resolve_caller`)."""
    if not token:
        raise Unauthorized("缺少访问令牌（Authorization: Bearer …）")
    # Straight from the app, not through `AppSettings`: one dependency less on every request.
    claims = decode_access_token(request.app.state.settings, token)
    accounts: callers.AccountReader = request.app.state.accounts
    record = await accounts.read(claims.subject)
    if record is None:
        raise InvalidToken("令牌对应的账号不存在")
    # The snapshot's columns in its field order, then `region_codes` (NULL without regions).
    row = AccountSnapshot(*record[: len(PRINCIPAL_COLUMNS)])
    if not row.is_active:
        raise Unauthorized("账号已停用")
    # `iat` has whole seconds: a token from the very second of a logout counts as before it.
    if row.tokens_valid_after is not None and claims.issued_at <= row.tokens_valid_after:
        raise InvalidToken("令牌已被注销，请重新登录")
    return Principal(user=row, region_codes=tuple(record["region_codes"] or ()))


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting only the given roles (others get 403: the endpoint exists)."""

    async def check(principal: CurrentUser) -> Principal:
        return admit(principal, roles)

    return check


def admit(principal: Principal, roles: tuple[Role, ...]) -> Principal:
    if principal.role not in roles:
        raise Forbidden("当前角色无权执行此操作")
    return principal


async def get_scope(principal: CurrentUser) -> Scope:
    return principal.scope


CallerScope = Annotated[Scope, Depends(get_scope)]
STAFF_ROLES = (Role.coordinator, Role.manager, Role.admin)
Staff = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]
Manager = Annotated[Principal, Depends(require_roles(Role.manager, Role.admin))]
Admin = Annotated[Principal, Depends(require_roles(Role.admin))]
Villager = Annotated[Principal, Depends(require_roles(Role.villager))]


async def get_actor(request: Request, principal: CurrentUser) -> Actor:
    return actor_of(request, principal)


def actor_of(request: Request, principal: Principal) -> Actor:
    return Actor(
        user_id=principal.id,
        role=principal.role.value,
        request_id=request_id_var.get(),
        client_address=request.client.host if request.client else None,
    )


CurrentActor = Annotated[Actor, Depends(get_actor)]


# FastAPI resolves every dependency of a request anew, and on this machine each costs tens of
# microseconds (docs/benchmarks.md, Visits): a third of a visit's time in the worker went to
# the five behind `Staff`, `CurrentActor` and the endpoint's connection. The hot write path
# resolves its caller with these plain functions instead, and documents the security it checks
# with `BEARER_SECURITY`.
BEARER_SECURITY: dict[str, Any] = {"security": [{bearer.scheme_name: []}]}


async def resolve_caller(request: Request, roles: tuple[Role, ...]) -> tuple[Principal, Actor]:
    """The caller (401 without a valid token, 403 outside `roles`) and the actor to audit, as
    `require_roles(*roles)` and `CurrentActor` give them."""
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    principal = await read_principal(request, token if scheme.lower() == "bearer" else None)
    return admit(principal, roles), actor_of(request, principal)
