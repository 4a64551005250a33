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


# Full-width forms (Ａ-Ｚ, ０-９ and the rest of U+FF01..U+FF5E) and the ideographic space, as
# Chinese input methods type them: the same characters, so folding them is no guess.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# A csv cell written as a formula to keep Excel from turning it into a number: ="4502…"
_FORMULA_TEXT = re.compile(r'^="(.*)"$')


def repair_id_number(raw: object) -> str:
    """The number in its 18-character shape with what spreadsheets add taken off (spaces,
    apostrophes, quotes, full-width digits, a lower-case x), or `InvalidIdNumber` saying why
    it cannot be: digits lost to a number cell or scientific notation are never guessed."""
    if raw is None:
        raise InvalidIdNumber("身份证号码为空")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        # A number cell holds 15 significant digits: an 18-digit number has lost its last ones.
        raise InvalidIdNumber(
            "身份证号码被表格软件存成了数字，末几位已丢失，请把该列设为文本后重新导出"
        )
    text = str(raw).translate(_HALF_WIDTH).strip()
    if formula := _FORMULA_TEXT.match(text):
        text = formula.group(1)
    text = text.strip("'‘’\"").strip().replace(" ", "").upper()
    if _SCIENTIFIC.match(text):
        raise InvalidIdNumber(
            f"身份证号码被表格软件转成了科学计数法（{text}），末几位已丢失，"
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
    return text


def id_number_problem(number: str, *, today: date | None = None) -> str | None:
    """What is wrong with a well-shaped number (`repair_id_number`'s answer), or None: a birth
    date that does not exist or lies after `today` (by default the county's day, in
    Asia/Shanghai), or a check digit that does not match."""
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return f"身份证号码中的出生日期 {number[6:14]} 不存在"
    if not _EARLIEST_BIRTH <= birth <= (today or periods.today()):
        return f"身份证号码中的出生日期 {number[6:14]} 不合理"
    if check_digit(number[:17]) != number[17]:
        return "身份证号码校验位不正确，请核对是否有输错的数字"
    return None


def normalise_id_number(raw: object, *, today: date | None = None) -> str:
    """The canonical 18-character form, or `InvalidIdNumber` saying what is wrong."""
    number = repair_id_number(raw)
    if problem := id_number_problem(number, today=today):
        raise InvalidIdNumber(problem)
    return number


def birth_date(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
