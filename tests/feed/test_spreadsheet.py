"""The spreadsheet adapter (app/feed/spreadsheet.py): csv encodings, xlsx with title rows and
mangled ID numbers, the header found by its names, chunks and resuming from a position."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from app.feed import spreadsheet
from app.feed.mapping import SHEET_COLUMNS
from app.feed.records import Batch, FeedRecord, RowError
from app.feed.spreadsheet import (
    HeaderNotFound,
    MissingColumns,
    SpreadsheetSource,
    UnreadableFile,
    detect_encoding,
)
from tests.feed.sheets import VALID_ID, person

HEADERS = list(SHEET_COLUMNS)
# Exports vary the order and add columns of their own.
REORDERED = ["序号", *reversed(HEADERS), "备注"]


def write_csv(path: Path, rows: list[list[object]], encoding: str) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def data_row(columns: list[str], index: int, **changes: object) -> list[object]:
    cells = person(**{"成员编号": f"M{index:04d}", "姓名": f"韦{index}", **changes})
    return [cells.get(header, f"x{index}") for header in columns]


async def collect(source: SpreadsheetSource, start: str | None = None) -> list[Batch]:
    return [batch async for batch in source.batches(start)]


def lines(batches: list[Batch]) -> list[int]:
    return [record.line for batch in batches for record in batch.records]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
async def test_csv_in_each_encoding_with_a_title_row(tmp_path, encoding):
    rows: list[list[object]] = [
        ["某某县防返贫监测对象名单"],
        REORDERED,
        data_row(REORDERED, 1, 姓名="韦𠀀"),  # a character GBK lacks and GB18030 has
        data_row(REORDERED, 2, 证件号码="4.50226E+17"),
    ]
    path = write_csv(tmp_path / "export.csv", rows, encoding)
    [batch] = await collect(SpreadsheetSource(path))
    assert [(r.line, r.name, r.id_number) for r in batch.records] == [(3, "韦𠀀", VALID_ID)]
    assert batch.errors == [
        RowError(
            4,
            "证件号码",
            "4.5022*E+17",
            "证件号码被表格软件转成了科学计数法（4.50226E+17），末几位已丢失，"
            "请把该列设为文本后重新导出",
        )
    ]
    assert (batch.rows_read, batch.position, batch.has_more) == (2, "5", False)


def test_encoding_detection():
    text = "户编号,姓名\n".encode()
    assert detect_encoding(text, complete=True) == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbf" + text, complete=True) == "utf-8-sig"
    assert detect_encoding("户编号,姓名\n".encode("gb18030"), complete=True) == "gb18030"
    # A sample cut in the middle of a character is still UTF-8, unless it is the whole file.
    cut = "户编号".encode()[:-1]
    assert detect_encoding(cut, complete=False) == "utf-8"
    assert detect_encoding(cut, complete=True) == "gb18030"


async def test_a_utf8_file_whose_sample_ends_mid_character(tmp_path, monkeypatch):
    rows = [HEADERS, data_row(HEADERS, 1)]
    path = write_csv(tmp_path / "export.csv", rows, "utf-8")
    monkeypatch.setattr(spreadsheet, "ENCODING_SAMPLE", 7)  # 户 (3 bytes), 编 (3), 1 of 号
    [batch] = await collect(SpreadsheetSource(path))
    assert [r.name for r in batch.records] == ["韦1"]


def mangled_workbook(path: Path) -> Path:
    """An export as county offices download it: a merged title, a subtitle, the header on
    line 3 in another order with a column of its own, ID numbers as spreadsheets leave them."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["防返贫监测对象信息表"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(REORDERED))
    sheet.append(["填报单位：某某县", None, None, "导出日期：2026-11-30"])
    sheet.append(REORDERED)
    ids: list[object] = [
        f"{VALID_ID}' ",  # 4: trailing apostrophe and space
        "１１０１０５１９４９１２３１００２ｘ",  # 5: full width, lower-case x
        4.50226e17,  # 6: a number cell (float)
        "4.50226E+17",  # 7: scientific notation kept as text
        None,  # 8: an empty row, below
        450226198506141234,  # 9: a number cell (whole)
        f"'{VALID_ID}",  # 10: Excel's text marker
        VALID_ID[:17] + "1",  # 11: wrong check digit
        f"  {VALID_ID.lower()}  ",  # 12: spaces, lower-case x
    ]
    for offset, raw in enumerate(ids):
        line = 4 + offset
        if raw is None:
            sheet.append([])
            continue
        cells = data_row(REORDERED, line, 证件号码=raw)
        if line == 5:
            cells[REORDERED.index("统计月份")] = datetime(2026, 11, 1)  # Excel's own reading
        sheet.append(cells)
    book.save(path)
    return path


EXPECTED_ERRORS = [
    RowError(
        6,
        "证件号码",
        "4.5022*e+17",
        "证件号码被表格软件存成了数字，末几位已丢失，请把该列设为文本后重新导出",
    ),
    RowError(
        7,
        "证件号码",
        "4.5022*E+17",
        "证件号码被表格软件转成了科学计数法（4.50226E+17），末几位已丢失，"
        "请把该列设为文本后重新导出",
    ),
]


@pytest.mark.parametrize("reader", ["calamine", "openpyxl"])
async def test_xlsx_with_title_rows_and_mangled_id_numbers(tmp_path, monkeypatch, reader):
    path = mangled_workbook(tmp_path / "export.xlsx")
    if reader == "openpyxl":
        monkeypatch.setattr(spreadsheet, "CALAMINE_MAX_SHEET_BYTES", 0)
    [batch] = await collect(SpreadsheetSource(path))
    assert [(r.line, r.id_number, r.id_number_valid) for r in batch.records] == [
        (4, VALID_ID, True),
        (5, VALID_ID, True),
        (10, VALID_ID, True),
        (11, VALID_ID[:17] + "1", False),
        (12, VALID_ID, True),
    ]
    numeric = RowError(
        9,
        "证件号码",
        "4.5022**********e+17",  # 4.50226198506141e+17: the 15 digits a number cell keeps
        "证件号码被表格软件存成了数字，末几位已丢失，请把该列设为文本后重新导出",
    )
    assert batch.errors == [*EXPECTED_ERRORS, numeric]
    assert batch.records[1].employment is not None
    assert batch.records[1].employment.period == "2026-11"
    assert (batch.rows_read, batch.position, batch.has_more) == (8, "13", False)


async def test_both_xlsx_readers_give_the_same_records(tmp_path, monkeypatch):
    path = mangled_workbook(tmp_path / "export.xlsx")
    fast = await collect(SpreadsheetSource(path, chunk_rows=3))
    monkeypatch.setattr(spreadsheet, "CALAMINE_MAX_SHEET_BYTES", 0)
    streamed = await collect(SpreadsheetSource(path, chunk_rows=3))
    assert [b.records for b in fast] == [b.records for b in streamed]
    assert [(b.rows_read, b.position, b.has_more) for b in fast] == [
        (b.rows_read, b.position, b.has_more) for b in streamed
    ]


async def test_an_empty_first_row_keeps_line_numbers(tmp_path):
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.cell(row=3, column=1, value="标题")
    for column, header in enumerate(HEADERS, start=1):
        sheet.cell(row=4, column=column, value=header)
    for column, value in enumerate(data_row(HEADERS, 1), start=1):
        sheet.cell(row=5, column=column, value=value)
    path = tmp_path / "export.xlsx"
    book.save(path)
    assert lines(await collect(SpreadsheetSource(path))) == [5]


async def test_a_missing_column_refuses_the_file(tmp_path):
    columns = [h for h in HEADERS if h not in ("证件号码", "统计月份")]
    path = write_csv(tmp_path / "export.csv", [["标题"], columns], "gb18030")
    with pytest.raises(MissingColumns) as refused:
        await collect(SpreadsheetSource(path))
    assert refused.value.missing == ("证件号码", "统计月份")
    assert refused.value.reason == (
        "表头（第2行）缺少以下列：证件号码、统计月份。请使用监测系统导出的完整表格"
    )


async def test_no_header_in_the_first_rows(tmp_path):
    rows: list[list[object]] = [[f"说明{i}"] for i in range(10)] + [HEADERS]
    path = write_csv(tmp_path / "export.csv", rows, "utf-8")
    with pytest.raises(HeaderNotFound) as refused:
        await collect(SpreadsheetSource(path))
    assert refused.value.reason.startswith("前10行中找不到表头")


async def test_an_old_xls_file_is_refused(tmp_path):
    path = tmp_path / "export.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    with pytest.raises(UnreadableFile):
        await collect(SpreadsheetSource(path))


async def test_chunks_and_resuming_from_a_position(tmp_path):
    rows: list[list[object]] = [["标题"], HEADERS]
    rows += [data_row(HEADERS, line) for line in range(3, 6)]
    rows.append([])  # line 6: empty, skipped
    rows += [data_row(HEADERS, line) for line in range(7, 11)]
    path = write_csv(tmp_path / "export.csv", rows, "gb18030")
    source = SpreadsheetSource(path, chunk_rows=3)
    batches = await collect(source)
    assert [(lines([b]), b.rows_read, b.position, b.has_more) for b in batches] == [
        ([3, 4, 5], 3, "6", True),
        ([7, 8, 9], 3, "10", True),
        ([10], 1, "11", False),
    ]
    resumed = await collect(source, batches[0].position)
    assert [lines([b]) for b in resumed] == [[7, 8, 9], [10]]
    assert [b.position for b in resumed] == ["10", "11"]
    done = await collect(source, "11")
    assert [(b.records, b.rows_read, b.position, b.has_more) for b in done] == [
        ([], 0, "11", False)
    ]


async def test_rows_shorter_than_the_header_read_as_empty_cells(tmp_path):
    row = data_row(HEADERS, 1)
    cut = row[: HEADERS.index("务工状态")]  # the employment columns left off
    path = write_csv(tmp_path / "export.csv", [HEADERS, cut], "utf-8")
    [batch] = await collect(SpreadsheetSource(path))
    assert isinstance(batch.records[0], FeedRecord)
    assert batch.records[0].employment is None
