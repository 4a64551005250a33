from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request, Response, status

from app.auth import service, tokens
from app.auth.errors import (
    PhoneAlreadyBound,
    RefreshTokenInvalid,
    RefreshTokenReused,
    TooManyLoginAttempts,
    UnsupportedGrant,
    WeChatBusy,
    WeChatCodeInvalid,
    WeChatFailed,
    WeChatRateLimited,
    WeChatUserBlocked,
)
from app.auth.models import AccountKind
from app.auth.schemas import (
    LogoutRequest,
    RefreshRequest,
    TokenRequest,
    TokenResponse,
    UserOut,
    WeChatCode,
    WeChatLoginResponse,
)
from app.auth.throttle import LoginThrottle
from app.auth.wechat import WeChatClient
from app.core.auth import CurrentUser, client_address
from app.core.config import Settings
from app.core.crypto import PiiCipher
from app.core.deps import Session
from app.core.errors import (
    InvalidCredentials,
    ValidationFailed,
    problem_responses,
)
from app.core.routing import api_router

router = api_router("", tags=["auth"])


async def app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_wechat(request: Request) -> WeChatClient:
    state = request.app.state
    return WeChatClient(state.settings, state.http, state.redis)


async def get_throttle(request: Request) -> LoginThrottle:
    return LoginThrottle(request.app.state.redis, request.app.state.settings)


async def login_address(request: Request) -> str:
    return client_address(request)


AppSettings = Annotated[Settings, Depends(app_settings)]
WeChat = Annotated[WeChatClient, Depends(get_wechat)]
Throttle = Annotated[LoginThrottle, Depends(get_throttle)]
ClientAddress = Annotated[str, Depends(login_address)]
_wechat_errors = (WeChatCodeInvalid, WeChatRateLimited, WeChatUserBlocked, WeChatBusy, WeChatFailed)


@router.post(
    "/auth/wechat/login",
    summary="Log in with a WeChat mini-program code",
    response_model=WeChatLoginResponse,
    responses=problem_responses(*_wechat_errors, TooManyLoginAttempts, InvalidCredentials),
)
async def wechat_login(
    body: WeChatCode,
    session: Session,
    settings: AppSettings,
    wechat: WeChat,
    throttle: Throttle,
    address: ClientAddress,
) -> WeChatLoginResponse:
    """Exchanges the code from `wx.login` at WeChat (`jscode2session`). A WeChat user seen for
    the first time becomes a `villager`; bind a phone to become the coordinator or manager that
    phone was registered for. WeChat's `session_key` never leaves the server."""
    pair, created = await service.wechat_login(
        session, settings, wechat, throttle, code=body.code, address=address
    )
    return WeChatLoginResponse(**pair.model_dump(), created=created)


@router.post(
    "/auth/wechat/phone",
    summary="Bind the caller's WeChat phone number",
    response_model=TokenResponse,
    responses=problem_responses(*_wechat_errors, PhoneAlreadyBound),
)
async def bind_wechat_phone(
    body: WeChatCode,
    caller: CurrentUser,
    session: Session,
    settings: AppSettings,
    wechat: WeChat,
) -> TokenResponse:
    """Verifies the phone number through WeChat (`getuserphonenumber`, code from the
    phone-number button). When a coordinator or manager was pre-registered with that phone,
    this WeChat identity becomes theirs and the answer carries tokens for that account; use
    them from now on. Otherwise the verified phone is kept on the villager account."""
    return await service.bind_phone(session, settings, wechat, caller, body.code)


@router.post(
    "/auth/token",
    summary="Password or client-credentials grant",
    response_model=TokenResponse,
    responses=problem_responses(
        InvalidCredentials, TooManyLoginAttempts, UnsupportedGrant, ValidationFailed
    ),
)
async def token(
    session: Session,
    settings: AppSettings,
    throttle: Throttle,
    address: ClientAddress,
    form: Annotated[TokenRequest, Form()],
) -> TokenResponse:
    """OAuth2 token endpoint (form body). `grant_type=password` with `username`/`password` for
    people; `grant_type=client_credentials` with `client_id`/`client_secret` for county API
    clients. Repeated failures for an account are throttled per address, and attempts per
    address (429 with `Retry-After`); failures elsewhere never refuse the right password."""
    if form.grant_type == "password":
        name, secret, kind = form.username, form.password, AccountKind.person
    else:
        name, secret, kind = form.client_id, form.client_secret, AccountKind.client
    if not name or not secret:
        raise ValidationFailed("缺少账号或密码（客户端标识或密钥）")
    return await service.password_login(
        session, settings, throttle, username=name, password=secret, address=address, kind=kind
    )


@router.post(
    "/auth/refresh",
    summary="Exchange a refresh token for a new pair",
    response_model=TokenResponse,
    responses=problem_responses(RefreshTokenInvalid, RefreshTokenReused),
)
async def refresh(body: RefreshRequest, session: Session, settings: AppSettings) -> TokenResponse:
    """Spends the refresh token and answers a new access and refresh token. A spent token
    presented again revokes every token of that login (`refresh_token_reused`), except for a
    retry within a few seconds by a phone that lost the previous answer."""
    user, issued = await tokens.rotate(session, settings, body.refresh_token)
    return await service.token_response(session, settings, user, issued)


@router.post(
    "/auth/logout",
    summary="End a session",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
async def logout(body: LogoutRequest, caller: CurrentUser, session: Session) -> None:
    """Revokes the given refresh token's login; with `everywhere`, every login of this account
    and every access token issued so far."""
    await service.logout(session, caller, body.refresh_token, body.everywhere)


@router.get(
    "/me",
    summary="Who am I",
    response_model=UserOut,
)
async def me(caller: CurrentUser, request: Request) -> UserOut:
    """The calling account, its role and its regions."""
    cipher = PiiCipher.from_settings(request.app.state.settings)
    return service.user_out(caller.user, caller.region_codes, cipher)
