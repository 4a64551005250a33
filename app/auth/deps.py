"""Who is calling: the bearer token checked, the account loaded, roles and scope derived."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Row, func, select

from app.audit.service import Actor
from app.auth.models import AccountKind, Role, UserAccount, UserRegion
from app.core.config import Settings
from app.core.db import Database
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

    user: Row[Any]  # the `user_account` columns
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


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


AppSettings = Annotated[Settings, Depends(get_settings_dep)]

_account = UserAccount.__table__
_principal_query = select(
    _account,
    select(func.array_agg(UserRegion.region_code))
    .where(UserRegion.user_id == _account.c.id)
    .correlate(_account)
    .scalar_subquery()
    .label("region_codes"),
)


async def get_principal(
    request: Request,
    settings: AppSettings,
    token: Annotated[str | None, Depends(bearer)],
) -> Principal:
    """Every authenticated request pays for this, so it is one autocommit Core query: no
    BEGIN/COMMIT round trips and no ORM identity map, on a connection of its own."""
    if not token:
        raise Unauthorized("缺少访问令牌（Authorization: Bearer …）")
    claims = decode_access_token(settings, token)
    database: Database = request.app.state.db
    async with database.autocommit_engine.connect() as connection:
        row = (
            await connection.execute(_principal_query.where(_account.c.id == claims.subject))
        ).one_or_none()
    if row is None:
        raise InvalidToken("令牌对应的账号不存在")
    if not row.is_active:
        raise Unauthorized("账号已停用")
    # `iat` has whole seconds: a token from the very second of a logout counts as before it.
    if row.tokens_valid_after is not None and claims.issued_at <= row.tokens_valid_after:
        raise InvalidToken("令牌已被注销，请重新登录")
    return Principal(user=row, region_codes=tuple(row.region_codes or ()))


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting only the given roles (others get 403: the endpoint exists)."""

    async def check(principal: CurrentUser) -> Principal:
        if principal.role not in roles:
            raise Forbidden("当前角色无权执行此操作")
        return principal

    return check


async def get_scope(principal: CurrentUser) -> Scope:
    return principal.scope


CallerScope = Annotated[Scope, Depends(get_scope)]
Staff = Annotated[Principal, Depends(require_roles(Role.coordinator, Role.manager, Role.admin))]
Manager = Annotated[Principal, Depends(require_roles(Role.manager, Role.admin))]
Admin = Annotated[Principal, Depends(require_roles(Role.admin))]


async def get_actor(request: Request, principal: CurrentUser) -> Actor:
    return Actor(
        user_id=principal.id,
        role=principal.role.value,
        request_id=request_id_var.get(),
        client_address=request.client.host if request.client else None,
    )


CurrentActor = Annotated[Actor, Depends(get_actor)]
