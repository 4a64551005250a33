"""Notifications: the outbox every event writes to, in its own transaction."""
