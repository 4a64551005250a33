"""One error base with a stable `code`, and its OpenAPI documentation.

Plain types, no FastAPI: services raise these. `app.core.error_handlers` renders them as
RFC 9457 problem+json.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"
_PROBLEMS_ATTRIBUTE = "__problems__"
T = TypeVar("T")


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `body.code`.")
    message: str = Field(description="What is wrong with it, in Chinese, for a person to read.")


class Problem(BaseModel):
    """An error answer (RFC 9457). Clients switch on `code`; people read `title` and `detail`."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    code: str = Field(description="Stable snake_case error code, e.g. `not_found`.")
    request_id: str | None = None
    errors: list[FieldError] | None = None


class AppError(Exception):
    """Base of every error the service answers on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "服务器内部错误"
    # Most errors undo the request's writes; a few must keep them (revoking a token family
    # when a stolen refresh token is replayed), and say so here.
    keeps_changes: ClassVar[bool] = False
    # Answered only to writing methods: a dependency declaring it documents it on those alone.
    writes_only: ClassVar[bool] = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra


class BadRequest(AppError):
    status, code, title = 400, "bad_request", "请求有误"


class ValidationFailed(AppError):
    status, code, title = 422, "validation_failed", "参数校验失败"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "未登录或登录已失效"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extra)


class InvalidToken(Unauthorized):
    code, title = "invalid_token", "令牌无效"


class TokenExpired(Unauthorized):
    code, title = "token_expired", "令牌已过期"


class InvalidCredentials(Unauthorized):
    code, title = "invalid_credentials", "用户名或密码错误"


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "无权执行此操作"


class NotFound(AppError):
    status, code, title = 404, "not_found", "资源不存在"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "请求体过大"


class Conflict(AppError):
    status, code, title = 409, "conflict", "与现有数据冲突"


class PreconditionFailed(AppError):
    status, code, title = 412, "precondition_failed", "数据已被他人修改"


class TooManyRequests(AppError):
    status, code, title = 429, "too_many_requests", "请求过于频繁"

    def __init__(self, detail: str | None = None, *, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))}, **extra)


class UpstreamUnavailable(AppError):
    status, code, title = 503, "upstream_unavailable", "外部服务暂不可用"


class UpstreamError(AppError):
    status, code, title = 502, "upstream_error", "外部服务返回错误"


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "服务暂不可用"


class ProblemResponse(dict[str, Any]):
    """One status's entry in an operation's `responses=`: the OpenAPI text, whose schema lists
    the `code`s that status may carry, and the error classes behind them (`errors`), so the
    entries a router shares and the ones an operation adds can be merged (`merge_responses`).

    Only `application/problem+json` is documented (not FastAPI's `model=`, which would add an
    `application/json` the service never answers); `Problem` joins the document's schemas in
    `app.core.routing.install_openapi`."""

    def __init__(self, errors: tuple[type[AppError], ...]) -> None:
        self.errors = tuple(dict.fromkeys(errors))
        codes = list(dict.fromkeys(error.code for error in self.errors))
        super().__init__(
            description="; ".join(f"`{e.code}`: {e.title}" for e in self.errors),
            content={
                PROBLEM_MEDIA_TYPE: {
                    "schema": {
                        "allOf": [
                            {"$ref": "#/components/schemas/Problem"},
                            {
                                "type": "object",
                                "properties": {"code": {"type": "string", "enum": codes}},
                                "required": ["code"],
                            },
                        ]
                    }
                }
            },
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> ProblemResponse:
        return ProblemResponse(self.errors)


def problem_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the problems an operation may answer, one per
    status, each with its `code`s enumerated."""
    by_status: dict[int, list[type[AppError]]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    return {status: ProblemResponse(tuple(group)) for status, group in sorted(by_status.items())}


def merge_responses(
    shared: Mapping[int | str, dict[str, Any]], own: Mapping[int | str, dict[str, Any]]
) -> dict[int | str, dict[str, Any]]:
    """`shared` (a router's) with `own` (an operation's) added: the problems of one status are
    pooled, so an operation's own 422 keeps `validation_failed` beside its codes. Any other
    entry of the operation replaces the router's, as FastAPI does."""
    merged = dict(shared)
    for status, entry in own.items():
        earlier = merged.get(status)
        if isinstance(earlier, ProblemResponse) and isinstance(entry, ProblemResponse):
            entry = ProblemResponse(earlier.errors + entry.errors)
        merged[status] = entry
    return dict(sorted(merged.items(), key=lambda item: str(item[0])))


def declares_problems(*errors: type[AppError]) -> Callable[[T], T]:
    """Marks a dependency with the problems it may answer, so that every operation using it
    documents them (`app.core.routing.ApiRouter`), e.g. pagination's `invalid_cursor`."""

    def mark(dependency: T) -> T:
        setattr(dependency, _PROBLEMS_ATTRIBUTE, errors)
        return dependency

    return mark


def declared_problems(dependency: Any) -> tuple[type[AppError], ...]:
    return tuple(getattr(dependency, _PROBLEMS_ATTRIBUTE, ()))
