"""GB 11643 ID numbers: check digit, real birth date, 18 characters, spreadsheet damage."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

import pytest

from app.core.periods import SHANGHAI
from app.households.errors import InvalidIdNumber
from app.households.id_number import check_digit, normalise_id_number

VALID = "11010519491231002X"


def test_valid_number_passes():
    assert normalise_id_number(VALID) == VALID


def test_lower_case_x_is_normalised():
    assert normalise_id_number(VALID.lower()) == VALID


@pytest.mark.parametrize("raw", [f"'{VALID}", f"  {VALID}  ", f"{VALID}'", f"‘{VALID}"])
def test_spreadsheet_decorations_are_stripped(raw):
    assert normalise_id_number(raw) == VALID


def test_integer_written_as_float_keeps_its_digits():
    first17 = "45022619850614001"
    number = first17 + check_digit(first17)
    if number.endswith("X"):
        pytest.skip("check digit X cannot be numeric")
    assert normalise_id_number(number + ".0") == number


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("110105194912310021", "校验位"),  # bad check digit
        ("110105194902300029", "出生日期"),  # 30 February
        ("110105299912310028", "出生日期"),  # born in the future
        ("110105491231002", "15位"),  # legacy 15 digits
        ("4.50226E+17", "科学计数法"),
        ("4.50226198506E+17", "科学计数法"),
        ("1101051949123100", "18位"),
        ("11010519491231002Y", "最后一位"),
        ("", "18位"),
    ],
)
def test_invalid_numbers_are_refused_with_a_reason(raw, fragment):
    with pytest.raises(InvalidIdNumber) as error:
        normalise_id_number(raw, today=date(2026, 11, 22))
    assert error.value.code == "invalid_id_number"
    assert fragment in (error.value.detail or "")


def test_float_value_is_refused():
    with pytest.raises(InvalidIdNumber):
        normalise_id_number(4.50226e17)


def _born(day: date) -> str:
    first17 = f"110105{day:%Y%m%d}002"
    return first17 + check_digit(first17)


@pytest.fixture
def machine_on_another_day(monkeypatch):
    """The machine's local clock set to a time zone whose date, right now, differs from
    Shanghai's: 12 hours behind UTC before 18:00 in Shanghai, 14 ahead after."""
    behind = datetime.now(SHANGHAI).hour < 18
    monkeypatch.setenv("TZ", "XXX+12" if behind else "XXX-14")  # POSIX: the sign is reversed
    time.tzset()
    assert date.today() != datetime.now(SHANGHAI).date()
    yield
    monkeypatch.undo()
    time.tzset()


def test_birth_dates_count_in_the_countys_day(machine_on_another_day):
    """Born today, in Shanghai: valid whatever the machine's own date; born tomorrow: not."""
    shanghai_today = datetime.now(SHANGHAI).date()
    assert normalise_id_number(_born(shanghai_today)) == _born(shanghai_today)
    with pytest.raises(InvalidIdNumber) as error:
        normalise_id_number(_born(shanghai_today + timedelta(days=1)))
    assert "出生日期" in (error.value.detail or "")
