"""Logins, phone binding, accounts. Services flush; the request boundary commits."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import tokens
from app.auth.callers import AccountSnapshot
from app.auth.errors import PhoneAlreadyBound
from app.auth.models import AccountKind, Role, UserAccount, UserRegion
from app.auth.schemas import TokenResponse, UserOut
from app.auth.throttle import LoginThrottle
from app.auth.wechat import WeChatClient
from app.core.caller import Principal
from app.core.config import Settings
from app.core.crypto import PHONE_INDEX, PiiCipher, mask_phone
from app.core.errors import Conflict, InvalidCredentials, ValidationFailed
from app.core.scope import RegionLevel, level_of
from app.core.security import hash_password, verify_password
from app.households.models import Member
from app.regions.models import Region

PHONE_CONTEXT = b"user_account.phone"


def user_out(
    user: UserAccount | AccountSnapshot,
    region_codes: list[str] | tuple[str, ...],
    cipher: PiiCipher,
) -> UserOut:
    phone = cipher.decrypt(user.phone_cipher, context=PHONE_CONTEXT) if user.phone_cipher else None
    return UserOut(
        id=user.id,
        role=Role(user.role),
        kind=AccountKind(user.kind),
        username=user.username,
        display_name=user.display_name,
        phone=mask_phone(phone),
        region_codes=list(region_codes),
        wechat_bound=user.wechat_openid is not None,
        member_id=user.member_id,
    )


async def region_codes_of(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    return list(
        (
            await session.scalars(
                select(UserRegion.region_code)
                .where(UserRegion.user_id == user_id)
                .order_by(UserRegion.region_code)
            )
        ).all()
    )


async def token_response(
    session: AsyncSession, settings: Settings, user: UserAccount, issued: tokens.IssuedTokens
) -> TokenResponse:
    await session.flush()
    return TokenResponse(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
        user=user_out(
            user, await region_codes_of(session, user.id), PiiCipher.from_settings(settings)
        ),
    )


async def _login(session: AsyncSession, settings: Settings, user: UserAccount) -> TokenResponse:
    user.last_login_at = datetime.now(UTC)
    return await token_response(
        session, settings, user, tokens.issue_tokens(session, settings, user)
    )


async def password_login(
    session: AsyncSession,
    settings: Settings,
    throttle: LoginThrottle,
    *,
    username: str,
    password: str,
    address: str,
    kind: AccountKind,
) -> TokenResponse:
    """Password grant (people) and client-credentials grant (API clients) share this path."""
    await throttle.admit(username, address)
    user = await session.scalar(
        select(UserAccount).where(func.lower(UserAccount.username) == username.lower())
    )
    valid = await verify_password(user.secret_hash if user else None, password)
    if user is None or not valid or user.kind != kind or not user.is_active:
        await throttle.failed(username, address)
        raise InvalidCredentials(
            "客户端标识或密钥错误" if kind is AccountKind.client else "用户名或密码错误"
        )
    await throttle.succeeded(username, address)
    return await _login(session, settings, user)


async def wechat_login(
    session: AsyncSession,
    settings: Settings,
    wechat: WeChatClient,
    throttle: LoginThrottle,
    *,
    code: str,
    address: str,
) -> tuple[TokenResponse, bool]:
    await throttle.admit(None, address)
    wx = await wechat.code_to_session(code)
    user = await session.scalar(select(UserAccount).where(UserAccount.wechat_openid == wx.openid))
    created = user is None
    if user is None:
        # An unknown WeChat user is a villager until a phone binding says otherwise.
        user = UserAccount(
            role=Role.villager,
            kind=AccountKind.person,
            wechat_openid=wx.openid,
            wechat_unionid=wx.unionid,
            display_name="微信用户",
        )
        session.add(user)
        await session.flush()
    elif not user.is_active:
        raise InvalidCredentials("账号已停用")
    return await _login(session, settings, user), created


async def bind_phone(
    session: AsyncSession,
    settings: Settings,
    wechat: WeChatClient,
    caller: Principal,
    code: str,
) -> TokenResponse:
    """Verify the caller's phone with WeChat. A phone pre-registered to a coordinator or manager
    moves this WeChat identity onto that account; otherwise the phone stays on the villager."""
    phone = await wechat.phone_number(code)
    cipher = PiiCipher.from_settings(settings)
    index = cipher.blind_index(phone, context=PHONE_INDEX)
    user = await session.get_one(UserAccount, caller.id)
    staff = await session.scalar(
        select(UserAccount).where(
            UserAccount.phone_index == index,
            UserAccount.role != Role.villager,
            UserAccount.kind == AccountKind.person,
            UserAccount.is_active.is_(True),
        )
    )
    if staff is None or staff.id == user.id:
        user.phone_cipher = cipher.encrypt(phone, context=PHONE_CONTEXT)
        user.phone_index = index
        if user.role == Role.villager and user.member_id is None:
            user.member_id = await _unclaimed_member_with_phone(session, index)
        return await _login(session, settings, user)
    if staff.wechat_openid is not None and staff.wechat_openid != user.wechat_openid:
        raise PhoneAlreadyBound("该手机号对应的工作人员账号已绑定其他微信，请联系管理员")
    openid, unionid = user.wechat_openid, user.wechat_unionid
    if user.role == Role.villager and user.username is None:
        # The placeholder villager made at first login is retired in favour of the staff account.
        # Revoked before the deactivation is flushed, which would revoke them too (a trigger),
        # but under the plainer reason.
        await tokens.revoke_all_for_user(session, user.id, "merged_into_staff")
        user.wechat_openid = None
        user.is_active = False
        await session.flush()
    staff.wechat_openid, staff.wechat_unionid = openid, unionid
    return await _login(session, settings, staff)


async def _unclaimed_member_with_phone(session: AsyncSession, index: bytes) -> uuid.UUID | None:
    """The one registry member with this phone and no account yet. Several members sharing a
    family phone is ambiguous: none is chosen, and a coordinator links the account instead."""
    candidates = (
        await session.scalars(
            select(Member.id)
            .where(
                Member.phone_index == index,
                ~exists().where(UserAccount.member_id == Member.id),
            )
            .limit(2)
        )
    ).all()
    return candidates[0] if len(candidates) == 1 else None


async def logout(
    session: AsyncSession, caller: Principal, refresh_token: str | None, everywhere: bool
) -> None:
    if everywhere:
        await tokens.revoke_all_for_user(session, caller.id, "logout_everywhere")
        user = await session.get_one(UserAccount, caller.id)
        user.tokens_valid_after = datetime.now(UTC).replace(microsecond=0)
        return
    if refresh_token:
        token = await tokens.find_live_token(session, refresh_token)
        if token is not None and token.user_id == caller.id:
            await tokens.revoke_family(session, token.family_id, "logout")


async def create_user(
    session: AsyncSession,
    settings: Settings,
    *,
    role: Role,
    username: str | None,
    password: str | None,
    region_codes: list[str],
    display_name: str = "",
    phone: str | None = None,
    kind: AccountKind = AccountKind.person,
) -> UserAccount:
    _check_regions_for_role(role, region_codes)
    if region_codes:
        known = set(
            (await session.scalars(select(Region.code).where(Region.code.in_(region_codes)))).all()
        )
        missing = sorted(set(region_codes) - known)
        if missing:
            raise ValidationFailed(f"区划代码不存在：{', '.join(missing)}")
    if username and await session.scalar(
        select(func.count()).where(func.lower(UserAccount.username) == username.lower())
    ):
        raise Conflict(f"用户名 {username} 已存在")
    user = UserAccount(
        role=role,
        kind=kind,
        username=username,
        secret_hash=await hash_password(password) if password else None,
        display_name=display_name or username or "",
    )
    if phone:
        cipher = PiiCipher.from_settings(settings)
        user.phone_cipher = cipher.encrypt(phone, context=PHONE_CONTEXT)
        user.phone_index = cipher.blind_index(phone, context=PHONE_INDEX)
    session.add(user)
    await session.flush()
    session.add_all(UserRegion(user_id=user.id, region_code=code) for code in set(region_codes))
    await session.flush()
    return user


async def create_client(
    session: AsyncSession, settings: Settings, *, name: str, region_code: str
) -> tuple[UserAccount, str]:
    """A county API client (client-credentials grant); the secret is shown once, stored hashed."""
    secret = secrets.token_urlsafe(32)
    client = await create_user(
        session,
        settings,
        role=Role.manager,
        kind=AccountKind.client,
        username="cli_" + secrets.token_hex(8),
        password=secret,
        region_codes=[region_code],
        display_name=name,
    )
    return client, secret


def _check_regions_for_role(role: Role, region_codes: list[str]) -> None:
    if role is Role.admin and region_codes:
        raise ValidationFailed("管理员不属于任何区划")
    if role is Role.manager and len(region_codes) != 1:
        raise ValidationFailed("乡镇或县级管理人员须有且只有一个所属区划")
    if role is Role.coordinator:
        if not region_codes:
            raise ValidationFailed("协管员须至少分配一个村")
        if any(level_of(code) is not RegionLevel.village for code in region_codes):
            raise ValidationFailed("协管员只能分配到村级区划")
    if role is Role.villager and region_codes:
        raise ValidationFailed("群众账号不分配区划")
