"""One error base with a stable `code`, rendered as RFC 9457 problem+json everywhere."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, ClassVar, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core import validation
from app.core.logging import request_id_var

PROBLEM_MEDIA_TYPE = "application/problem+json"
_PROBLEMS_ATTRIBUTE = "__problems__"
T = TypeVar("T")
logger = logging.getLogger("wengang.errors")


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


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id_var.get(),
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        exc.status, exc.code, exc.title, exc.detail, headers=exc.headers, **exc.extra
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field_path(tuple(err.get("loc", ()))), "message": validation.message(err)}
        for err in exc.errors()
    ]
    return problem_response(
        422, ValidationFailed.code, ValidationFailed.title, "请求中有字段不符合要求", errors=errors
    )


_HTTP_CODES = {
    404: ("not_found", "资源不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    401: ("unauthorized", "未登录或登录已失效"),
    403: ("forbidden", "无权执行此操作"),
}


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _HTTP_CODES.get(
        exc.status_code, (HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_"), "请求失败")
    )
    detail = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else None
    if exc.status_code == 405:
        detail = "该路径不支持此请求方法"
    return problem_response(exc.status_code, code, title, detail, headers=exc.headers)


async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
    # The trace goes to the log (with the request id), never to the client.
    logger.error("unhandled error", exc_info=exc)
    return problem_response(
        500, AppError.code, AppError.title, "请稍后重试，或联系管理员并提供请求编号"
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled)


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
