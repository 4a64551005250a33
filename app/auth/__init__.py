"""Accounts, logins (WeChat, password, client credentials), tokens and the caller's scope."""
