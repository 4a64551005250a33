"""The health domain's errors."""

from __future__ import annotations

from app.core.errors import ServiceUnavailable


class NotReady(ServiceUnavailable):
    code, title = "not_ready", "服务依赖不可用"
