"""Who is calling: the bearer token checked, the account loaded, roles and scope derived."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import func, select

from app.auth.models import AccountKind, Role, UserAccount, UserRegion
from app.core.config import Settings
from app.core.db import Session
from app.core.errors import Forbidden, InvalidToken, TokenExpired, Unauthorized, problem_responses
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
    user: UserAccount
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

_regions_of_user = (
    select(func.array_agg(UserRegion.region_code))
    .where(UserRegion.user_id == UserAccount.id)
    .correlate(UserAccount)
    .scalar_subquery()
)


async def get_principal(
    session: Session,
    settings: AppSettings,
    token: Annotated[str | None, Depends(bearer)],
) -> Principal:
    if not token:
        raise Unauthorized("缺少访问令牌（Authorization: Bearer …）")
    claims = decode_access_token(settings, token)
    row = (
        await session.execute(
            select(UserAccount, _regions_of_user).where(UserAccount.id == claims.subject)
        )
    ).one_or_none()
    if row is None:
        raise InvalidToken("令牌对应的账号不存在")
    user, region_codes = row
    if not user.is_active:
        raise Unauthorized("账号已停用")
    # `iat` has whole seconds: a token from the very second of a logout counts as before it.
    if user.tokens_valid_after is not None and claims.issued_at <= user.tokens_valid_after:
        raise InvalidToken("令牌已被注销，请重新登录")
    return Principal(user=user, region_codes=tuple(region_codes or ()))


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
