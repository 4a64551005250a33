"""The exception handlers that answer every error as RFC 9457 problem+json (`app.main`
installs them): the service's own (`AppError`), FastAPI's validation errors, Starlette's HTTP
errors (unknown path, wrong method), the database's refusals of a value and anything unhandled."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import asyncpg
from asyncpg.exceptions import _base as asyncpg_base
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core import validation
from app.core.errors import PROBLEM_MEDIA_TYPE, AppError, ValidationFailed
from app.core.logging import request_id_var

logger = logging.getLogger("wengang.errors")


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


# FastAPI's 400 for a body it cannot read at all (bytes that are not UTF-8, nesting deeper than
# the parser goes, a broken form). Malformed JSON it answers 422 `json_invalid`; so are these.
_UNREADABLE_BODY = "There was an error parsing the body"
# Starlette's 400s for a multipart form it cannot read (`starlette.formparsers`).
_UNREADABLE_FORM = (
    "Invalid multipart data",
    "Missing boundary in multipart",
    "Field exceeded maximum size",
    "Part exceeded maximum size",
    "Too many fields",
    "Too many files",
    'The Content-Disposition header field "name"',
)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and (
        exc.detail == _UNREADABLE_BODY
        or (isinstance(exc.detail, str) and exc.detail.startswith(_UNREADABLE_FORM))
    ):
        errors = [{"field": "body", "message": validation.TEMPLATES["json_invalid"]}]
        return problem_response(
            422, ValidationFailed.code, ValidationFailed.title, "请求体无法解析", errors=errors
        )
    code, title = _HTTP_CODES.get(
        exc.status_code, (HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_"), "请求失败")
    )
    detail = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else None
    if exc.status_code == 405:
        detail = "该路径不支持此请求方法"
    return problem_response(exc.status_code, code, title, detail, headers=exc.headers)


def _is_data_error(exc: BaseException) -> bool:
    """Whether the database (or the driver, encoding a parameter) refused a value: SQLSTATE
    class 22 (data exception: a NUL in text, a number or date out of range, bad encoding)."""
    if isinstance(exc, DBAPIError):
        cause = getattr(exc.orig, "__cause__", None) or exc.orig
        return cause is not None and cause is not exc and _is_data_error(cause)
    if isinstance(exc, asyncpg_base.DataError):
        return True
    return isinstance(exc, asyncpg.PostgresError) and str(exc.sqlstate or "").startswith("22")


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    # The edge's types refuse what they know to be bad; a value the database still refuses is
    # the client's too, so it is a 422, never a 500. What it was is logged, not echoed.
    if not _is_data_error(exc):
        return await _unhandled(request, exc)
    logger.warning("value refused by the database", exc_info=exc)
    return problem_response(
        422, ValidationFailed.code, ValidationFailed.title, "请求中有取值超出允许范围或含无效字符"
    )


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
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(asyncpg.PostgresError, _database_error)
    app.add_exception_handler(asyncpg_base.DataError, _database_error)
    app.add_exception_handler(Exception, _unhandled)
