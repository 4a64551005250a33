"""The official division list imports set-based, reports bad rows, and is idempotent."""

from __future__ import annotations

from sqlalchemy import func, select

from app.regions.importer import import_regions
from app.regions.models import Region

ROWS = """统计用区划代码,城乡分类代码,名称
450226103000,,和平乡
450226103201,220,和平村
450226103202,220,寨准村
45022610320,220,短了一位
450226103203,220,
450226999201,220,没有上级的村
450226103202,220,寨准村（重复）
"""


async def _import(app, path):
    async with app.state.db.engine.begin() as connection:
        return await import_regions(connection, path)


async def test_import_reports_bad_rows_and_loads_the_rest(app, db, tmp_path):
    path = tmp_path / "regions.csv"
    path.write_text(ROWS, encoding="utf-8")
    report = await _import(app, path)
    assert report.read == 7
    assert report.inserted == 3
    lines = {line for line, _ in report.errors}
    assert lines == {5, 6, 7, 4}
    reasons = dict(report.errors)
    assert "12位" in reasons[5]
    assert "名称为空" in reasons[6]
    assert "上级" in reasons[7]
    assert "重复" in reasons[4]
    village = await db.get(Region, "450226103202")
    assert village.name == "寨准村（重复）"
    assert village.level == "village"
    assert village.parent_code == "450226103000"


async def test_reimport_changes_nothing(app, db, tmp_path):
    path = tmp_path / "regions.csv"
    path.write_text(ROWS, encoding="utf-8")
    await _import(app, path)
    before = await db.scalar(select(func.count()).select_from(Region))
    again = await _import(app, path)
    assert (again.inserted, again.updated) == (0, 0)
    assert await db.scalar(select(func.count()).select_from(Region)) == before


async def test_gb18030_and_bom_files(app, db, tmp_path):
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(
        "代码,名称\n450226104000,良口乡\n".replace("代码", "统计用区划代码").encode("gb18030")
    )
    assert (await _import(app, gbk)).inserted == 1
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffcode,name\n450226104201,良口村\n".encode())
    assert (await _import(app, bom)).inserted == 1
    assert (await db.get(Region, "450226104000")).name == "良口乡"


async def test_missing_header_is_reported(app, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    report = await _import(app, path)
    assert report.inserted == 0
    assert report.errors and report.errors[0][0] == 1
