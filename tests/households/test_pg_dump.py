"""A dump of the database, as a backup would take it, holds no plaintext ID number or phone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.auth.models import Role
from tests.households.factories import PersonSpec, make_household, synthetic_id_number


def _pg_dump_binaries() -> list[str]:
    found = []
    try:
        import pgserver

        embedded = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
        if embedded.exists():
            found.append(str(embedded))
    except ImportError:  # pragma: no cover - pgserver is a dependency
        pass
    if shutil.which("pg_dump"):
        found.append(shutil.which("pg_dump"))  # type: ignore[arg-type]
    return found


def _dump(database_url: str) -> str:
    url = make_url(database_url)
    host = url.query.get("host") or url.host or "127.0.0.1"
    args = ["--data-only", "-h", str(host), "-U", url.username or "postgres", url.database or ""]
    if url.port:
        args += ["-p", str(url.port)]
    errors = []
    for binary in _pg_dump_binaries():  # the one matching the server's major version wins
        result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
        if result.returncode == 0:
            return result.stdout
        errors.append(result.stderr)
    pytest.skip(f"no pg_dump matching the server: {errors}")


async def test_pg_dump_has_no_plaintext_personal_data(client, db, settings, make_user, auth):
    number = synthetic_id_number("19720304")
    phone, new_phone = "13698765432", "13598761234"
    _, members = await make_household(
        db, settings, "450226100201", [PersonSpec("蒙五", id_number=number, phone=phone)]
    )
    manager = auth(await make_user(Role.manager, ["450226100000"], phone="13012345678"))
    # Writes and a reveal put personal data through every path that stores anything.
    await client.patch(
        f"/api/v1/members/{members[0].id}", json={"phone": new_phone, "version": 1}, headers=manager
    )
    await client.post(
        f"/api/v1/members/{members[0].id}/id-number/reveal",
        json={"reason": "核对身份"},
        headers=manager,
    )
    dump = _dump(settings.database_url)
    assert "蒙五" in dump  # the dump is real and has the member in it
    for secret in (number, number[:17], phone, new_phone, "13012345678"):
        assert secret not in dump
