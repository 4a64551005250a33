"""The caller as read per request: a typed, read-only snapshot of the account and its regions."""

from __future__ import annotations

import dataclasses

import pytest

from app.auth.callers import PRINCIPAL_COLUMNS
from app.auth.models import Role, UserAccount
from app.core.caller import AccountSnapshot
from tests.conftest import TEST_PASSWORD


def test_the_snapshot_fields_are_account_columns():
    """The per-request query selects exactly the snapshot's fields, so each must be a column."""
    assert set(PRINCIPAL_COLUMNS) <= set(UserAccount.__table__.columns.keys())


def test_the_snapshot_is_read_only():
    snapshot = AccountSnapshot(**{name: None for name in PRINCIPAL_COLUMNS})
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.role = "admin"
    with pytest.raises((AttributeError, TypeError)):
        snapshot.region_codes = ["450226100201"]


async def test_me_from_the_snapshot_matches_the_login(client, make_user):
    """`/me` (built from the snapshot) shows the account exactly as the login (built from the
    ORM row) does, for an account with regions, a phone, and one with neither."""
    await make_user(
        Role.coordinator,
        ["450226100201", "450226100202"],
        username="dazhai",
        phone="13800001234",
    )
    await make_user(Role.admin, username="root")
    for username, regions in (("dazhai", ["450226100201", "450226100202"]), ("root", [])):
        login = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": TEST_PASSWORD},
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        me = await client.get("/api/v1/me", headers=headers)
        assert me.status_code == 200, me.text
        expected, shown = login.json()["user"], me.json()
        assert sorted(shown.pop("region_codes")) == sorted(expected.pop("region_codes")) == regions
        assert shown == expected
