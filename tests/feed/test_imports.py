"""Spreadsheet imports end to end: an upload through the API, imported by a real arq worker,
with its counts and the refused rows in a clerk's words; the same file again writes nothing."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, text

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.households.models import Member, MemberEmployment
from tests.feed.records import id_number
from tests.feed.sheets import person

VILLAGE = "450226100201"
OTHER_TOWNSHIP_VILLAGE = "450226101201"
TOWNSHIP = "450226100000"
HEADERS = list(person())


def _rows() -> list[list[object]]:
    """Two households of the township, a row of another township, and an ID number that a
    spreadsheet turned into a float."""
    people = [
        person(
            户编号="H1", 成员编号="M1", 姓名="韦强", 证件号码=id_number(1), 行政区划代码=VILLAGE
        ),
        person(
            户编号="H1", 成员编号="M2", 姓名="韦梅", 证件号码=id_number(2), 与户主关系="之女",
            行政区划代码=VILLAGE, 务工状态="未务工", 务工地域=None, 就业渠道=None,
            务工单位=None, **{"务工时间(月)": None, "务工收入(元)": None},
        ),
        person(
            户编号="H2", 成员编号="M3", 姓名="杨一", 证件号码=id_number(3), 行政区划代码=VILLAGE
        ),
        person(
            户编号="H3", 成员编号="M4", 姓名="石二", 证件号码=id_number(4),
            行政区划代码=OTHER_TOWNSHIP_VILLAGE,
        ),
        person(
            户编号="H4", 成员编号="M5", 姓名="吴三", 证件号码="4.50226E+17", 行政区划代码=VILLAGE
        ),
    ]  # fmt: skip
    return [[p.get(h) for h in HEADERS] for p in people]


def gb18030_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["三江县防返贫监测对象务工信息导出"])
    writer.writerow(HEADERS)
    writer.writerows(_rows())
    return out.getvalue().encode("gb18030")


def xlsx() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["三江县防返贫监测对象务工信息导出"])
    sheet.append(["导出日期：2026-11-30"])
    sheet.append(HEADERS)
    for row in _rows():
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
async def manager(make_user, auth):
    return auth(await make_user(Role.manager, [TOWNSHIP]))


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "feed_import_dir", tmp_path)


async def _import(client, db, run_queued_jobs, headers, name: str, content: bytes) -> dict:
    sent = await client.post(
        "/api/v1/feed/imports", headers=headers, files={"file": (name, content)}
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "queued"
    await run_queued_jobs(db)
    answer = await client.get(f"/api/v1/feed/imports/{sent.json()['id']}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _written(db) -> tuple[int, int]:
    """Row versions of the registry (any write changes an xmin) and audit rows."""
    versions = await db.scalar(
        text(
            "SELECT (SELECT coalesce(sum(xmin::text::bigint), 0) FROM household)"
            " + (SELECT coalesce(sum(xmin::text::bigint), 0) FROM member)"
            " + (SELECT coalesce(sum(xmin::text::bigint), 0) FROM member_employment)"
        )
    )
    audits = await db.scalar(select(func.count()).select_from(AuditEvent))
    await db.rollback()
    return versions, audits


@pytest.mark.parametrize(
    ("name", "content", "first_line"),
    [("三江县导出.csv", gb18030_csv(), 3), ("三江县导出.xlsx", xlsx(), 4)],
    ids=["gb18030-csv", "xlsx"],
)
async def test_an_export_imports_with_its_refused_rows(
    client, db, run_queued_jobs, manager, name, content, first_line
):
    done = await _import(client, db, run_queued_jobs, manager, name, content)
    assert done["status"] == "succeeded", done
    counts = {k: done[k] for k in ("rows_read", "new", "changed", "unchanged", "rejected")}
    assert counts == {"rows_read": 5, "new": 3, "changed": 0, "unchanged": 0, "rejected": 2}
    assert done["applied"] == 3
    errors = [(e["line"], e["column"], e["reason"]) for e in done["errors"]]
    assert errors == [
        (first_line + 3, "行政区划代码", "该户不在您的管辖范围内"),
        (
            first_line + 4,
            "证件号码",
            "证件号码被表格软件转成了科学计数法（4.50226E+17），末几位已丢失，"
            "请把该列设为文本后重新导出",
        ),
    ]
    assert await db.scalar(select(func.count()).select_from(Member)) == 3
    month = await db.scalar(select(MemberEmployment).join(Member).where(Member.member_no == "M1"))
    assert (month.status, month.source, month.months) == ("务工", "feed", 6)
    # No plaintext ID number anywhere: the registry, the refused rows, the audit log.
    dump = await db.scalar(
        text(
            "SELECT concat((SELECT string_agg(to_jsonb(m)::text, '') FROM member m),"
            " (SELECT string_agg(to_jsonb(e)::text, '') FROM feed_row_error e),"
            " (SELECT string_agg(to_jsonb(a)::text, '') FROM audit_event a))"
        )
    )
    assert id_number(1) not in dump and "13800138000" not in dump

    before = await _written(db)
    again = await _import(client, db, run_queued_jobs, manager, name, content)
    assert (again["new"], again["changed"], again["unchanged"], again["rejected"]) == (0, 0, 3, 2)
    assert await _written(db) == before


async def test_a_file_without_its_columns_is_refused_whole(client, db, run_queued_jobs, manager):
    content = "户编号,姓名\nH1,韦强\n".encode()
    done = await _import(client, db, run_queued_jobs, manager, "bad.csv", content)
    assert done["status"] == "failed"
    assert "找不到表头" in done["error"] and done["rows_read"] == 0


async def test_imports_are_for_managers_and_only_spreadsheets(client, make_user, auth, manager):
    coordinator = auth(await make_user(Role.coordinator, [VILLAGE]))
    refused = await client.post(
        "/api/v1/feed/imports", headers=coordinator, files={"file": ("a.csv", b"x")}
    )
    assert refused.status_code == 403
    wrong = await client.post(
        "/api/v1/feed/imports", headers=manager, files={"file": ("a.pdf", b"%PDF")}
    )
    assert wrong.status_code == 422 and wrong.json()["code"] == "unreadable_spreadsheet"
    empty = await client.post(
        "/api/v1/feed/imports", headers=manager, files={"file": ("a.csv", b"")}
    )
    assert empty.status_code == 422 and empty.json()["code"] == "empty_upload"


async def test_another_townships_manager_cannot_see_an_import(
    client, db, run_queued_jobs, manager, make_user, auth
):
    sent = await client.post(
        "/api/v1/feed/imports", headers=manager, files={"file": ("a.csv", gb18030_csv())}
    )
    other = auth(await make_user(Role.manager, ["450226101000"]))
    path = f"/api/v1/feed/imports/{sent.json()['id']}"
    assert (await client.get(path, headers=other)).status_code == 404
    assert (await client.get(path + "/errors", headers=other)).status_code == 404


async def test_the_data_checks_run_over_what_an_import_changed(
    client, db, run_queued_jobs, manager
):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    short_phone = person(
        户编号="H9", 成员编号="M9", 姓名="韦九", 证件号码=id_number(9), 行政区划代码=VILLAGE,
        联系电话="1380013800",
    )  # fmt: skip
    writer.writerow([short_phone.get(h) for h in HEADERS])
    done = await _import(client, db, run_queued_jobs, manager, "one.csv", out.getvalue().encode())
    assert done["status"] == "succeeded", done
    found = await client.get(
        "/api/v1/feed/findings", params={"rule": "phone_not_11_digits"}, headers=manager
    )
    assert found.status_code == 200, found.text
    assert len(found.json()["items"]) == 1


async def test_two_workers_on_one_import_apply_it_once(app, client, db, settings, manager):
    """arq runs a job at least once: a second worker on the same import leaves it to the
    first, and the refused rows are filed once."""
    from app.core.crypto import PiiCipher
    from app.feed import imports

    sent = await client.post(
        "/api/v1/feed/imports", headers=manager, files={"file": ("a.csv", gb18030_csv())}
    )
    import_id = uuid.UUID(sent.json()["id"])
    cipher = PiiCipher.from_settings(settings)
    outcomes = await asyncio.gather(
        imports.run_import(app.state.db, import_id, cipher, 2),
        imports.run_import(app.state.db, import_id, cipher, 2),
    )
    assert "succeeded" in outcomes
    done = (await client.get(f"/api/v1/feed/imports/{import_id}", headers=manager)).json()
    assert (done["rows_read"], done["new"], done["rejected"]) == (5, 3, 2)
    assert len(done["errors"]) == 2
