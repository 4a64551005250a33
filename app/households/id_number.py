"""National ID numbers (居民身份证号码, GB 11643-1999): checked, normalised, repaired when safe.

Spreadsheets mangle ID numbers: they turn them into floats (`4.50226E+17`), keep a leading
apostrophe, pad them with spaces. What can be repaired without guessing is; the rest is refused
with a reason a clerk understands.
"""

from __future__ import annotations

import re
from datetime import date

from app.core import periods
from app.households.errors import InvalidIdNumber

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?E\+?\d+$", re.IGNORECASE)
_EARLIEST_BIRTH = date(1900, 1, 1)


def check_digit(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalise_id_number(raw: object, *, today: date | None = None) -> str:
    """The canonical 18-character form, or `InvalidIdNumber` saying what is wrong. A birth
    date after `today` (by default the county's day, in Asia/Shanghai) is refused."""
    if raw is None:
        raise InvalidIdNumber("身份证号码为空")
    if isinstance(raw, float):
        raise InvalidIdNumber(
            "身份证号码被表格软件存成了数字，末几位已丢失，请把该列设为文本后重新导出"
        )
    text = str(raw).strip().strip("'‘’\"").strip().replace(" ", "").upper()
    if _SCIENTIFIC.match(text):
        raise InvalidIdNumber(
            "身份证号码被表格软件转成了科学计数法（如 4.50226E+17），末几位已丢失，"
            "请把该列设为文本后重新导出"
        )
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]  # an integer-valued cell written out as a float: the digits survive
    if len(text) == 15 and text.isdigit():
        raise InvalidIdNumber("这是15位旧版身份证号码，请提供18位号码")
    if len(text) != 18:
        raise InvalidIdNumber(f"身份证号码应为18位，实际为{len(text)}位")
    if not _SHAPE.match(text):
        raise InvalidIdNumber("身份证号码前17位应为数字，最后一位为数字或X")
    try:
        birth = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise InvalidIdNumber(f"身份证号码中的出生日期 {text[6:14]} 不存在") from None
    if not _EARLIEST_BIRTH <= birth <= (today or periods.today()):
        raise InvalidIdNumber(f"身份证号码中的出生日期 {text[6:14]} 不合理")
    if check_digit(text[:17]) != text[17]:
        raise InvalidIdNumber("身份证号码校验位不正确，请核对是否有输错的数字")
    return text


def birth_date(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
