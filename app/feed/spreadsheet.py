"""The spreadsheet adapter: an export (xlsx, or csv in UTF-8, UTF-8 with BOM or GB18030) read
as a stream, in chunks of mapped rows (`app.feed.mapping`), resumable from a line.

The header is found by its column names among the first rows (exports carry title rows above
it); unknown columns are ignored, the order is free, a missing column refuses the whole file.
Line numbers are the sheet's own (title rows counted, from 1), so the clerk finds the row.

xlsx: python-calamine reads 15× faster than openpyxl's read-only mode but holds the whole sheet
(about 1.7× the sheet's XML in memory, `bench/xlsx_read.py`); it reads sheets up to
`CALAMINE_MAX_SHEET_BYTES` of XML, and openpyxl streams anything larger, so memory stays
bounded for any file size.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import zipfile
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.feed.mapping import HEADERS, map_sheet_row, sheet_field
from app.feed.records import Batch, FeedRecord, RowError

# The header is looked for in this many first rows.
HEADER_SEARCH_ROWS = 10
# A row naming at least this many of our columns is taken for the header.
HEADER_MIN_COLUMNS = 3
# Sheets whose XML is at most this large are read by calamine (whole, in about 1.7× as much
# memory); larger ones are streamed by openpyxl.
CALAMINE_MAX_SHEET_BYTES = 64 * 2**20
# Bytes read to tell a csv's encoding.
ENCODING_SAMPLE = 64 * 1024

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls


class SpreadsheetRefused(Exception):
    """The whole file cannot be imported; `reason` says why, for the clerk (Chinese)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnreadableFile(SpreadsheetRefused):
    pass


class HeaderNotFound(SpreadsheetRefused):
    pass


class MissingColumns(SpreadsheetRefused):
    def __init__(self, missing: Sequence[str], line: int) -> None:
        self.missing = tuple(missing)
        self.line = line
        super().__init__(
            f"表头（第{line}行）缺少以下列：{'、'.join(self.missing)}。请使用监测系统导出的完整表格"
        )


Row = tuple[int, Sequence[object]]  # the sheet's line number, its cells


@dataclass(frozen=True, slots=True)
class Header:
    line: int
    columns: dict[str, int]  # feed field → cell index


def detect_encoding(sample: bytes, *, complete: bool) -> str:
    """The csv's encoding from its first bytes: a BOM says UTF-8; else strict UTF-8 if the
    sample decodes (a character cut at its end is not held against it), else GB18030 (which
    reads GBK too). `complete`: the sample is the whole file."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def _csv_rows(path: Path) -> Iterator[Row]:
    with path.open("rb") as raw:
        sample = raw.read(ENCODING_SAMPLE)
        complete = len(sample) < ENCODING_SAMPLE or not raw.read(1)
    encoding = detect_encoding(sample, complete=complete)
    text = sample.decode(encoding, errors="ignore")
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    with path.open(encoding=encoding, newline="") as handle:
        # Rows, not physical lines: a quoted cell may span lines, as Excel shows it.
        try:
            yield from enumerate(csv.reader(handle, delimiter=delimiter), start=1)
        except UnicodeDecodeError as error:
            raise UnreadableFile(
                "文件编码无法识别：请另存为 UTF-8 或 GB18030（GBK）编码的 csv，或 xlsx"
            ) from error
        except csv.Error as error:
            raise UnreadableFile(f"csv 格式有误：{error}") from error


def _first_sheet_size(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        sheets = [
            info.file_size
            for info in archive.infolist()
            if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
        ]
    return max(sheets, default=0)


def _calamine_rows(path: Path) -> Iterator[Row]:
    from python_calamine import CalamineWorkbook

    with CalamineWorkbook.from_path(str(path)) as book:
        # iter_rows starts at the sheet's first row, empty or not (tests/feed pins this).
        rows = book.get_sheet_by_index(0).iter_rows()
        for number, cells in enumerate(rows, start=1):
            yield number, [_cell(value) for value in cells]


def _openpyxl_rows(path: Path) -> Iterator[Row]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        # Read-only mode pads missing rows with empty ones, so rows count from line 1.
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell(value) for value in cells]
    finally:
        book.close()


def _cell(value: Any) -> object:
    """One form for both readers: an empty cell is None, a whole number an int (calamine
    gives every number as a float)."""
    if value == "" or value is None:
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _xlsx_rows(path: Path) -> Iterator[Row]:
    try:
        size = _first_sheet_size(path)
    except zipfile.BadZipFile as error:
        raise UnreadableFile("xlsx 文件已损坏，无法打开") from error
    if size <= CALAMINE_MAX_SHEET_BYTES:
        return _calamine_rows(path)
    return _openpyxl_rows(path)


def read_rows(path: Path) -> Iterator[Row]:
    """Every row of the file's first sheet with its line number, whatever the format."""
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic == _ZIP_MAGIC:
        return _xlsx_rows(path)
    if magic == _OLE_MAGIC:
        raise UnreadableFile("不支持旧版 .xls 文件：请在表格软件中另存为 .xlsx 或 .csv 后上传")
    return _csv_rows(path)


def find_header(rows: Iterator[Row]) -> Header:
    """The header among the first `HEADER_SEARCH_ROWS` rows: the first naming at least
    `HEADER_MIN_COLUMNS` of our columns. Every column must be there (`MissingColumns`)."""
    best: tuple[int, dict[str, int]] | None = None
    for line, cells in rows:
        columns: dict[str, int] = {}
        for index, value in enumerate(cells):
            field = sheet_field(value)
            if field is not None:
                columns.setdefault(field, index)
        if len(columns) >= HEADER_MIN_COLUMNS:
            best = (line, columns)
            break
        if line >= HEADER_SEARCH_ROWS:
            break
    if best is None:
        raise HeaderNotFound(
            f"前{HEADER_SEARCH_ROWS}行中找不到表头：表头应包含 {'、'.join(HEADERS.values())} 等列"
        )
    line, columns = best
    missing = [header for field, header in HEADERS.items() if field not in columns]
    if missing:
        raise MissingColumns(missing, line)
    return Header(line, columns)


def _is_empty(cells: Sequence[object]) -> bool:
    return all(value is None or (isinstance(value, str) and not value.strip()) for value in cells)


@dataclass(slots=True)
class _Chunk:
    records: list[FeedRecord]
    errors: list[RowError]
    rows_read: int
    position: int
    has_more: bool


def _chunks(path: Path, start: int | None, chunk_rows: int) -> Iterator[_Chunk]:
    rows = read_rows(path)
    header = find_header(rows)
    first = max(start or 0, header.line + 1)
    fields = list(header.columns.items())
    records: list[FeedRecord] = []
    errors: list[RowError] = []
    read = 0
    position = first
    for line, cells in rows:
        if line < first or _is_empty(cells):
            continue
        if read == chunk_rows:
            # Another row follows: the chunk so far is complete, with more to come.
            yield _Chunk(records, errors, read, position, True)
            records, errors, read = [], [], 0
        width = len(cells)
        mapped = map_sheet_row(
            {field: cells[index] if index < width else None for field, index in fields}, line
        )
        if isinstance(mapped, FeedRecord):
            records.append(mapped)
        else:
            errors.extend(mapped)
        read += 1
        position = line + 1
    yield _Chunk(records, errors, read, position, False)


class SpreadsheetSource:
    """A spreadsheet export as a `FeedSource`: batches of up to `chunk_rows` data rows, each
    with the line to resume from. Reading runs in a thread of its own, off the event loop."""

    def __init__(self, path: Path, *, chunk_rows: int = 5000) -> None:
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        self.path = path
        self.chunk_rows = chunk_rows

    async def batches(self, start: str | None) -> AsyncIterator[Batch]:
        line = int(start) if start is not None else None
        chunks = _chunks(self.path, line, self.chunk_rows)
        # One thread for the whole file: a reader's objects stay on the thread that made them.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="spreadsheet") as thread:
            loop = asyncio.get_running_loop()
            try:
                while True:
                    chunk = await loop.run_in_executor(thread, next, chunks, None)
                    if chunk is None:
                        return
                    yield Batch(
                        records=chunk.records,
                        errors=chunk.errors,
                        rows_read=chunk.rows_read,
                        position=str(chunk.position),
                        has_more=chunk.has_more,
                    )
            finally:
                await loop.run_in_executor(thread, chunks.close)


__all__ = [
    "HeaderNotFound",
    "MissingColumns",
    "SpreadsheetRefused",
    "SpreadsheetSource",
    "UnreadableFile",
    "detect_encoding",
    "find_header",
    "read_rows",
]
