"""Knowing the caller: one dependency node per endpoint, behind the role aliases.

    async def endpoint(caller: Staff, session: Session) -> …:
        await service.do(session, caller, …)

`Caller(*roles)` is the whole dependency: its instance is what FastAPI calls, with nothing but
the request, so each endpoint resolves one node for its caller (FastAPI's dependencies cost
tens of microseconds each on every request: docs/benchmarks.md). It is also the OAuth2 bearer
scheme itself, so FastAPI writes the security requirement of every operation that uses it
into the OpenAPI document, under one scheme name, and `/docs` offers its Authorize button.

401 without a valid token (missing, malformed, expired, revoked, or the account deactivated or
gone); 403 for a valid caller outside the endpoint's roles (the endpoint exists). Each `Caller`
declares these problems itself (`declares_problems`), so every operation taking one documents
them without its router listing them.
"""

from __future__ import annotations

import uuid
from dataclasses import fields
from typing import Annotated, Protocol

import asyncpg
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param

from app.core.addresses import resolve_client
from app.core.caller import AccountSnapshot, Principal, Role
from app.core.errors import (
    AppError,
    Forbidden,
    InvalidToken,
    TokenExpired,
    Unauthorized,
    declares_problems,
)
from app.core.logging import request_id_var
from app.core.rate_limit import TooManyWrites, WriteAllowance
from app.core.routing import WRITE_METHODS
from app.core.security import decode_access_token

TOKEN_URL = "/api/v1/auth/token"
# The name the OpenAPI document has always given the scheme: clients generated from it and
# saved Authorize settings keep working.
SCHEME_NAME = "OAuth2PasswordBearer"

# An account record: the snapshot's columns in its field order, then `region_codes`.
_SNAPSHOT_LENGTH = len(fields(AccountSnapshot))


class Accounts(Protocol):
    """Where the caller's account is read (`app.auth.callers.AccountReader`, as
    `app.state.accounts`)."""

    async def read(self, user_id: uuid.UUID) -> asyncpg.Record | None: ...


class Caller(OAuth2PasswordBearer):
    """The calling account, admitted only in `roles`."""

    def __init__(self, *roles: Role) -> None:
        super().__init__(
            tokenUrl=TOKEN_URL,
            scheme_name=SCHEME_NAME,
            description="Access JWT from any of the login endpoints.",
            auto_error=False,
        )
        self.roles = frozenset(roles)
        problems: tuple[type[AppError], ...] = (Unauthorized, InvalidToken, TokenExpired)
        if self.roles != frozenset(Role):  # some signed-in accounts are refused
            problems += (Forbidden,)
        problems += (TooManyWrites,)
        declares_problems(*problems)(self)

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await read_caller(request)
        if principal.user.role not in self.roles:
            raise Forbidden("当前角色无权执行此操作")
        if request.method in WRITE_METHODS:
            await _count_write(request, principal)
        return principal


async def read_caller(request: Request) -> Principal:
    """The caller of `request`, any role: its token checked, then its account read with one
    autocommit query on the driver (no BEGIN/COMMIT, no ORM), shared with the reads of
    concurrent requests (`app.auth.callers.AccountReader`)."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if not token or scheme.lower() != "bearer":
        raise Unauthorized("缺少访问令牌（Authorization: Bearer …）")
    state = request.app.state
    claims = decode_access_token(state.settings, token)
    accounts: Accounts = state.accounts
    record = await accounts.read(claims.subject)
    if record is None:
        raise InvalidToken("令牌对应的账号不存在")
    account = AccountSnapshot(*record[:_SNAPSHOT_LENGTH])
    if not account.is_active:
        raise Unauthorized("账号已停用")
    # `iat` has whole seconds: a token from the very second of a logout counts as before it.
    if account.tokens_valid_after is not None and claims.issued_at <= account.tokens_valid_after:
        raise InvalidToken("令牌已被注销，请重新登录")
    return Principal(
        user=account,
        region_codes=tuple(record["region_codes"] or ()),
        request_id=request_id_var.get(),
        client_address=client_address(request) if request.client else None,
    )


def client_address(request: Request) -> str:
    """The client's address, believing `X-Forwarded-For` only from `TRUSTED_PROXIES`."""
    peer = request.client.host if request.client else None
    return resolve_client(
        peer, request.headers.getlist("x-forwarded-for"), request.app.state.settings.trusted_proxies
    )


async def _count_write(request: Request, principal: Principal) -> None:
    """Writes per account, counted once the caller is known, before the endpoint runs."""
    allowance: WriteAllowance = request.app.state.write_allowance
    await allowance.spend(principal.user.id)


STAFF_ROLES = (Role.coordinator, Role.manager, Role.admin)

# Any signed-in account, villagers included.
CurrentUser = Annotated[Principal, Depends(Caller(*Role))]
# Coordinators, managers and admins.
Staff = Annotated[Principal, Depends(Caller(*STAFF_ROLES))]
Manager = Annotated[Principal, Depends(Caller(Role.manager, Role.admin))]
Admin = Annotated[Principal, Depends(Caller(Role.admin))]
Villager = Annotated[Principal, Depends(Caller(Role.villager))]
