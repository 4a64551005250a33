from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from app.auth.models import AccountKind, Role
from app.core.bodies import RequestBody
from app.core.types import Text


class UserOut(BaseModel):
    id: uuid.UUID
    role: Role
    kind: AccountKind
    username: str | None
    display_name: str
    phone: str | None = Field(description="Masked, e.g. `138****5678`.")
    region_codes: list[str] = Field(
        description="A manager's region or a coordinator's villages; empty for others."
    )
    wechat_bound: bool
    member_id: uuid.UUID | None = Field(
        description="A villager's own registry record, once their verified phone matched it."
    )


class TokenRequest(RequestBody):
    """The OAuth2 token endpoint's form: `username`/`password` for `grant_type=password`,
    `client_id`/`client_secret` for `grant_type=client_credentials`."""

    grant_type: Literal["password", "client_credentials"]
    username: Text | None = Field(default=None, max_length=64)
    password: Text | None = Field(default=None, max_length=256)
    client_id: Text | None = Field(default=None, max_length=64)
    client_secret: Text | None = Field(default=None, max_length=256)
    scope: Text | None = Field(
        default=None,
        max_length=256,
        description="OAuth2 scopes, sent by generic clients; none are defined, so it is ignored.",
    )


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    user: UserOut


class WeChatCode(RequestBody):
    code: Text = Field(
        min_length=1,
        max_length=128,
        description="The code from `wx.login` or from the phone-number button.",
    )


class WeChatLoginResponse(TokenResponse):
    created: bool = Field(description="True when this WeChat user was seen for the first time.")


class RefreshRequest(RequestBody):
    refresh_token: Text = Field(min_length=1, max_length=256)


class LogoutRequest(RequestBody):
    refresh_token: Text | None = Field(
        default=None, max_length=256, description="The session to end; omit with `everywhere`."
    )
    everywhere: StrictBool = Field(
        default=False, description="End every session of this account, on every device."
    )
