"""The auth domain's errors: logins, tokens, WeChat."""

from __future__ import annotations

from app.core.errors import (
    AppError,
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    TooManyRequests,
    UpstreamError,
    UpstreamUnavailable,
)


class RefreshTokenInvalid(InvalidToken):
    code, title = "refresh_token_invalid", "刷新令牌无效或已过期，请重新登录"


class RefreshTokenReused(InvalidToken):
    code, title = "refresh_token_reused", "刷新令牌已被使用，为安全起见已注销该登录，请重新登录"
    keeps_changes = True  # the family's revocation must survive this error


class RefreshAccountDisabled(RefreshTokenInvalid):
    keeps_changes = True  # the login's revocation must outlive the deactivation


class PhoneAlreadyBound(Conflict):
    code, title = "phone_already_bound", "该手机号已绑定其他微信账号"


class UnsupportedGrant(BadRequest):
    code, title = "unsupported_grant_type", "不支持的授权方式"


class TooManyLoginAttempts(TooManyRequests):
    code, title = "too_many_login_attempts", "登录尝试过于频繁，请稍后再试"


class WeChatCodeInvalid(BadRequest):
    code, title = "wechat_code_invalid", "微信登录凭证无效或已使用，请重新登录"


class WeChatRateLimited(AppError):
    status, code, title = 429, "wechat_rate_limited", "微信接口调用过于频繁，请稍后再试"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": "60"})


class WeChatUserBlocked(Forbidden):
    code, title = "wechat_user_blocked", "该微信用户已被拦截，无法登录"


class WeChatBusy(UpstreamUnavailable):
    code, title = "wechat_busy", "微信系统繁忙，请稍后重试"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": "2"})


class WeChatFailed(UpstreamError):
    code, title = "wechat_error", "微信接口返回错误"
