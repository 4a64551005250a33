"""Feed rows into records (app/feed/mapping.py): each rule at its boundary, for spreadsheet
cells and HTTP records alike, with the exact reasons a clerk reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from app.feed.mapping import SHEET_COLUMNS, map_feed_record, map_sheet_row, sheet_field
from app.feed.records import FeedEmployment, FeedRecord, RowError
from tests.feed.sheets import VALID_ID, id_number, person


def sheet(**changes: object) -> FeedRecord | list[RowError]:
    cells = {SHEET_COLUMNS[header]: value for header, value in person(**changes).items()}
    return map_sheet_row(cells, 7)


def ok(result: FeedRecord | list[RowError]) -> FeedRecord:
    assert isinstance(result, FeedRecord), result
    return result


def refused(result: FeedRecord | list[RowError]) -> list[RowError]:
    assert isinstance(result, list), result
    return result


def one_error(result: FeedRecord | list[RowError]) -> RowError:
    errors = refused(result)
    assert len(errors) == 1, errors
    return errors[0]


def test_a_valid_row_maps_to_its_record():
    record = ok(sheet())
    assert record == FeedRecord(
        line=7,
        household_no="H0001",
        village_code="450226001001",
        household_category="脱贫户",
        monitor_type=None,
        risk_types=("因病", "因学"),
        risk_eliminated=False,
        relocated=True,
        income_per_capita=Decimal("8600.50"),
        member_no="M0001",
        name="韦小宝",
        id_number=VALID_ID,
        relation="户主",
        phone="13800138000",
        labour_type="普通劳动力",
        employment=FeedEmployment(
            period="2026-11",
            status="务工",
            region="县内",
            channel="就业帮扶车间",
            employer="某某帮扶车间",
            months=6,
            income=Decimal("3500.00"),
        ),
        updated_at=None,
        deleted=False,
        id_number_valid=True,
    )


# ID numbers: repaired when unambiguous, refused when digits are lost, flagged when the
# check digit is wrong.


@pytest.mark.parametrize(
    "raw",
    [
        f"{VALID_ID}'",
        f"'{VALID_ID}",
        f"  {VALID_ID}  ",
        f"{VALID_ID}' ",
        "１１０１０５１９４９１２３１００２Ｘ",
        "11010519491231002x",
        "１１０１０５１９４９１２３１００２ｘ",
        f'="{VALID_ID}"',
        f"\t{VALID_ID}",
    ],
)
def test_mangled_id_numbers_are_repaired(raw):
    assert ok(sheet(证件号码=raw)).id_number == VALID_ID


@pytest.mark.parametrize(
    ("raw", "shown", "reason"),
    [
        (
            "4.50226E+17",
            "4.5022*E+17",
            "证件号码被表格软件转成了科学计数法（4.50226E+17），末几位已丢失，"
            "请把该列设为文本后重新导出",
        ),
        (
            4.50226e17,
            "4.5022*e+17",
            "证件号码被表格软件存成了数字，末几位已丢失，请把该列设为文本后重新导出",
        ),
        (
            450226198506141234,
            "450226********1234",
            "证件号码被表格软件存成了数字，末几位已丢失，请把该列设为文本后重新导出",
        ),
        ("110105491231002", "110105*****1002", "这是15位旧版证件号码，请提供18位号码"),
        ("1101051949123100", "110105******3100", "证件号码应为18位，实际为16位"),
        ("11010519491231002Y", "110105********002Y", "证件号码前17位应为数字，最后一位为数字或X"),
    ],
)
def test_id_numbers_that_lost_digits_or_shape_are_refused(raw, shown, reason):
    assert one_error(sheet(证件号码=raw)) == RowError(7, "证件号码", shown, reason)


def test_an_empty_id_number_is_refused():
    assert one_error(sheet(证件号码="  ")) == RowError(7, "证件号码", None, "证件号码不能为空")


def test_a_wrong_check_digit_keeps_the_record_with_a_flag():
    wrong = VALID_ID[:17] + "1"
    record = ok(sheet(证件号码=wrong))
    assert (record.id_number, record.id_number_valid) == (wrong, False)
    assert ok(sheet(证件号码="110105194902300029")).id_number_valid is False  # 30 February
    assert ok(sheet(证件号码=id_number())).id_number_valid is True


# Lengths: at the column's width and one over; never cut.


@pytest.mark.parametrize(
    ("header", "limit"),
    [("户编号", 32), ("成员编号", 32), ("姓名", 64), ("务工单位", 128)],
)
def test_text_at_its_columns_width_passes_and_one_more_is_refused(header, limit):
    record = ok(sheet(**{header: "户" * limit}))
    if header == "务工单位":
        assert record.employment is not None and record.employment.employer == "户" * limit
    else:
        assert getattr(record, SHEET_COLUMNS[header]) == "户" * limit
    error = one_error(sheet(**{header: "户" * (limit + 1)}))
    assert (error.column, error.reason) == (
        header,
        f"{header}最多{limit}个字符，这里有{limit + 1}个",
    )


def test_text_is_trimmed_and_control_characters_are_refused():
    assert ok(sheet(姓名="\u3000 韦小宝 ")).name == "韦小宝"
    error = one_error(sheet(姓名="韦小\x00宝"))
    assert error == RowError(
        7, "姓名", "韦小\\x00宝", "姓名含有控制字符（如换行、制表符）或无效字符"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("450226001001", "450226001001"),
        ("４５０２２６００１００１", "450226001001"),
        (450226001001, "450226001001"),
        (450226001001.0, "450226001001"),
        ("'450226001001", "450226001001"),
    ],
)
def test_village_codes(raw, expected):
    assert ok(sheet(行政区划代码=raw)).village_code == expected


@pytest.mark.parametrize("raw", ["45022600100", "45022600100A", "4502260010011"])
def test_a_village_code_is_twelve_digits(raw):
    error = one_error(sheet(行政区划代码=raw))
    assert error.column == "行政区划代码"
    assert error.reason in ("行政区划代码应为12位数字", "行政区划代码最多12个字符，这里有13个")


def test_a_long_code_stored_as_a_number_has_lost_digits():
    error = one_error(sheet(户编号=4502260010011234567))
    assert error.reason == (
        "户编号被表格软件存成了数字，末几位可能已丢失：请把该列设为文本后重新导出"
    )
    assert ok(sheet(户编号=123456789012345)).household_no == "123456789012345"


# Value sets


@pytest.mark.parametrize(
    ("header", "bad", "reason"),
    [
        ("户类型", "贫困户", "户类型应为以下之一：脱贫户、监测户、一般农户"),
        (
            "监测对象类别",
            "不稳定",
            "监测对象类别应为以下之一：脱贫不稳定户、边缘易致贫户、突发严重困难户",
        ),
        ("劳动技能", "强劳动力", None),
        ("与户主关系", "朋友", None),
        ("务工状态", "在岗", "务工状态应为以下之一：务工、未务工"),
        ("务工地域", "国外", "务工地域应为以下之一：省外、省内县外、县内"),
        ("就业渠道", "网上", None),
    ],
)
def test_values_outside_the_policy_sets_are_refused(header, bad, reason):
    error = one_error(sheet(**{header: bad}))
    assert (error.line, error.column, error.value) == (7, header, bad)
    if reason:
        assert error.reason == reason


def test_required_values_must_be_there():
    errors = refused(sheet(户类型=None, 与户主关系="", 劳动技能=" "))
    assert [(e.column, e.reason) for e in errors] == [
        ("户类型", "户类型不能为空"),
        ("与户主关系", "与户主关系不能为空"),
        ("劳动技能", "劳动技能不能为空"),
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("因病、因残", ("因病", "因残")),
        ("因病,因残", ("因病", "因残")),
        ("因病，因残", ("因病", "因残")),
        (" 因病 、 因残 、", ("因病", "因残")),
        ("因病、因病", ("因病",)),
        ("", ()),
        (None, ()),
    ],
)
def test_risk_types_are_split(raw, expected):
    assert ok(sheet(风险类型=raw)).risk_types == expected


def test_an_unknown_risk_type_is_named():
    error = one_error(sheet(风险类型="因病、因懒"))
    assert error.reason.startswith("风险类型中的“因懒”不是有效的风险类型")


@pytest.mark.parametrize(("raw", "expected"), [("是", True), ("否", False), (None, False)])
def test_flags_are_yes_or_no(raw, expected):
    assert ok(sheet(是否风险消除=raw)).risk_eliminated is expected


def test_a_flag_other_than_yes_or_no_is_refused():
    assert one_error(sheet(是否易地搬迁="Y")) == RowError(
        7, "是否易地搬迁", "Y", "是否易地搬迁应填“是”或“否”"
    )


# Numbers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        (12, 12),
        (12.0, 12),
        ("１２", 12),
        ("0", 0),
    ],
)
def test_months_up_to_twelve(raw, expected):
    employment = ok(sheet(**{"务工时间(月)": raw})).employment
    assert employment is not None and employment.months == expected


@pytest.mark.parametrize("raw", ["13", 13, -1, "-1", 6.5, "六"])
def test_months_over_twelve_or_not_whole_are_refused(raw):
    error = one_error(sheet(**{"务工时间(月)": raw}))
    assert (error.column, error.reason) == ("务工时间(月)", "务工时间(月)应为 0 到 12 之间的整数")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("9999999999.99", Decimal("9999999999.99")),
        ("0", Decimal("0.00")),
        ("12.3", Decimal("12.30")),
        ("1,234.50", Decimal("1234.50")),
        (1234.56, Decimal("1234.56")),
        (1234.5599999999999, Decimal("1234.56")),
        ("１２３", Decimal("123.00")),
    ],
)
def test_money(raw, expected):
    assert ok(sheet(人均纯收入=raw)).income_per_capita == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("10000000000", "人均纯收入超出上限（应小于 10000000000 元）"),
        ("12.345", "人均纯收入最多保留两位小数"),
        ("-0.01", "人均纯收入不能为负数"),
        ("一万", "人均纯收入应为数字（元）"),
        ("NaN", "人均纯收入应为数字（元）"),
    ],
)
def test_money_out_of_bounds_is_refused(raw, reason):
    assert one_error(sheet(人均纯收入=raw)).reason == reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2026-12", "2026-12"), ("2026-01", "2026-01"), (datetime(2026, 11, 1), "2026-11")],
)
def test_periods(raw, expected):
    employment = ok(sheet(统计月份=raw)).employment
    assert employment is not None and employment.period == expected


@pytest.mark.parametrize("raw", ["2026-13", "2026-00", "2026-1", "202611", "2026/11"])
def test_a_period_is_a_real_month(raw):
    assert one_error(sheet(统计月份=raw)) == RowError(
        7, "统计月份", raw, "统计月份应为“年-月”格式的真实月份，如 2026-11"
    )


# Phones: repaired, kept whatever their length (a data check reports it), refused when not
# digits.


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("13800138000'", "13800138000"),
        (13800138000, "13800138000"),
        (13800138000.0, "13800138000"),
        ("0771123", "0771123"),
    ],
)
def test_phones(raw, expected):
    assert ok(sheet(联系电话=raw)).phone == expected


def test_a_phone_with_letters_is_refused_and_masked():
    assert one_error(sheet(联系电话="1380013800a")) == RowError(
        7, "联系电话", "138****800a", "联系电话只能包含数字"
    )
    assert one_error(sheet(联系电话="abc")).value == "***"


# Employment


def test_no_employment_cells_means_no_employment():
    empty = dict.fromkeys(
        ["务工状态", "务工地域", "就业渠道", "务工单位", "务工时间(月)", "务工收入(元)", "统计月份"]
    )
    assert ok(sheet(**empty)).employment is None


def test_employment_needs_a_status_and_a_period():
    errors = refused(sheet(务工状态=None, 统计月份=None))
    assert [(e.column, e.reason) for e in errors] == [
        ("务工状态", "务工状态不能为空"),
        ("统计月份", "统计月份不能为空"),
    ]


def test_months_may_be_empty_only_for_someone_not_working():
    record = ok(sheet(务工状态="未务工", **{"务工时间(月)": None}))
    assert record.employment is not None and record.employment.months == 0
    assert one_error(sheet(**{"务工时间(月)": None})).reason == "务工时间(月)不能为空"


def test_every_problem_of_a_row_is_reported():
    errors = refused(sheet(户类型="x", 证件号码="4.50226E+17", 统计月份="2026-13"))
    assert [e.column for e in errors] == ["户类型", "证件号码", "统计月份"]
    assert all(e.line == 7 for e in errors)


def test_sheet_headers_tolerate_spaces_and_full_width_parentheses():
    assert sheet_field(" 务工时间（月） ") == "employment.months"
    assert sheet_field("证件 号码") == "id_number"
    assert sheet_field("备注") is None
    assert sheet_field(None) is None


# The HTTP feed: JSON types, field names as columns, `updated_at` with its offset.


def feed(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "household_no": "H0001",
        "village_code": "450226001001",
        "household_category": "监测户",
        "monitor_type": "边缘易致贫户",
        "risk_types": ["因病"],
        "risk_eliminated": False,
        "relocated": False,
        "income_per_capita": 8600.5,
        "member_no": "M0001",
        "name": "韦小宝",
        "id_number": VALID_ID,
        "relation": "户主",
        "phone": None,
        "labour_type": "技能劳动力",
        "employment": {
            "status": "未务工",
            "region": None,
            "channel": None,
            "employer": None,
            "months": 0,
            "income": None,
            "period": "2026-11",
        },
        "updated_at": "2026-11-20T08:00:00+08:00",
        "deleted": False,
        "something_new": 1,
    }
    record.update(changes)
    return record


def test_a_feed_record_maps():
    record = ok(map_feed_record(feed(), 3))
    assert record.line == 3
    assert record.monitor_type == "边缘易致贫户"
    assert record.income_per_capita == Decimal("8600.50")
    assert record.employment == FeedEmployment("2026-11", "未务工", None, None, None, 0, None)
    assert record.updated_at == datetime(2026, 11, 20, 8, tzinfo=timezone(timedelta(hours=8)))
    assert ok(map_feed_record(feed(updated_at="2026-11-20T00:00:00Z"), 1)).updated_at == datetime(
        2026, 11, 20, tzinfo=UTC
    )
    assert ok(map_feed_record(feed(employment=None, deleted=True), 1)).deleted is True
    assert ok(map_feed_record(feed(employment=None), 1)).employment is None


@pytest.mark.parametrize(
    ("changes", "column", "reason"),
    [
        (
            {"updated_at": "2026-11-20T08:00:00"},
            "updated_at",
            "updated_at应为带 UTC 偏移的 ISO 8601 时间，如 2026-11-20T08:00:00+08:00",
        ),
        ({"updated_at": None}, "updated_at", "updated_at不能为空"),
        ({"id_number": 110105194912310021}, "id_number", "证件号码应为文本"),
        ({"name": 5}, "name", "姓名应为文本"),
        ({"risk_eliminated": "否"}, "risk_eliminated", "是否风险消除应为 true 或 false"),
        ({"risk_types": "因病"}, "risk_types", "风险类型应为字符串列表"),
        ({"income_per_capita": "8600"}, "income_per_capita", "人均纯收入应为数字（元）"),
        ({"employment": "务工"}, "employment", "务工信息应为一个对象或 null"),
        (
            {"employment": {"status": "务工", "months": "3", "period": "2026-11"}},
            "employment.months",
            "务工时间(月)应为 0 到 12 之间的整数",
        ),
        ({"household_category": None}, "household_category", "户类型不能为空"),
    ],
)
def test_feed_records_are_held_to_json_types(changes, column, reason):
    error = one_error(map_feed_record(feed(**changes), 4))
    assert (error.line, error.column, error.reason) == (4, column, reason)


def test_a_feed_records_wrong_check_digit_is_flagged():
    record = ok(map_feed_record(feed(id_number=VALID_ID[:17] + "1"), 1))
    assert record.id_number_valid is False


def test_a_feed_record_that_is_no_object_is_refused():
    assert map_feed_record([1, 2], 9) == [RowError(9, None, None, "这条记录不是一个 JSON 对象")]  # type: ignore[arg-type]


def test_masked_personal_data_in_errors():
    error = one_error(map_feed_record(feed(phone="138-0013-800x"), 1))
    assert error.value == "138****800x"
    assert "0013" not in (error.value or "")
