"""The notifications domain's errors."""

from __future__ import annotations

from app.core.errors import NotFound


class NotificationNotFound(NotFound):
    code, title = "notification_not_found", "通知不存在"
