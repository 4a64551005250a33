"""Rows of a monitoring-system export for the feed tests: one valid person, by header."""

from __future__ import annotations

from app.households.id_number import check_digit


def id_number(first17: str = "45022619850614001") -> str:
    return first17 + check_digit(first17)


VALID_ID = "11010519491231002X"


def person(**changes: object) -> dict[str, object]:
    """One valid row, keyed by the export's headers; `changes` by header too."""
    row: dict[str, object] = {
        "户编号": "H0001",
        "行政区划代码": "450226001001",
        "户类型": "脱贫户",
        "监测对象类别": None,
        "风险类型": "因病、因学",
        "是否风险消除": "否",
        "是否易地搬迁": "是",
        "人均纯收入": "8600.5",
        "成员编号": "M0001",
        "姓名": "韦小宝",
        "证件号码": VALID_ID,
        "与户主关系": "户主",
        "联系电话": "13800138000",
        "劳动技能": "普通劳动力",
        "务工状态": "务工",
        "务工地域": "县内",
        "就业渠道": "就业帮扶车间",
        "务工单位": "某某帮扶车间",
        "务工时间(月)": "6",
        "务工收入(元)": "3500",
        "统计月份": "2026-11",
    }
    row.update(changes)
    return row
