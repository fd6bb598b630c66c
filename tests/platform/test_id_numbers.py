from datetime import date

import pytest

from erma.errors import ValidationFailed
from erma.id_numbers import normalize_id_number, validate_id_number

TODAY = date(2026, 11, 26)


def rejected(raw: str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        validate_id_number(raw, today=TODAY)
    assert caught.value.field == "id_number"
    assert "身份证" in caught.value.message
    return caught.value


@pytest.mark.parametrize("number", ["11010519491231002X", "360426199101010071", "513223198001010011"])
def test_domain_notes_vectors_are_valid(number):
    assert validate_id_number(number, today=TODAY) == number


def test_domain_notes_1880_vector_has_a_good_check_digit_but_predates_1900():
    from stdnum.cn import ric

    number = "440524188001010014"
    assert ric.calc_check_digit(number) == number[-1]
    assert rejected(number).code == "id_number_birth_date"


def test_abolished_or_unknown_address_code_is_not_rejected():
    # 999999 is in no division list; only the check digit and birth date matter.
    assert validate_id_number("999999198001010011", today=TODAY) == "999999198001010011"


def test_lowercase_x_is_upper_cased():
    assert validate_id_number("11010519491231002x", today=TODAY) == "11010519491231002X"


def test_full_width_digits_spaces_and_dashes_are_normalised():
    raw = "５１３２２３　１９８００１０１－００１１"
    assert normalize_id_number(raw) == "513223198001010011"
    assert validate_id_number(raw, today=TODAY) == "513223198001010011"
    assert validate_id_number("110105 19491231 002ｘ", today=TODAY) == "11010519491231002X"


def test_wrong_check_digit():
    error = rejected("110105194912310021")
    assert error.code == "id_number_checksum"
    assert error.message == "身份证号码最后一位校验码不对，请核对后重新输入"


def test_february_30th_is_not_a_date():
    # Check digit is correct, so only the date can be at fault.
    assert rejected("513223198002300010").code == "id_number_birth_date"


def test_future_birth_date():
    assert rejected("513223209912310016").code == "id_number_birth_date"


def test_birth_date_today_is_accepted():
    from stdnum.cn import ric

    body = "513223" + TODAY.strftime("%Y%m%d") + "001"
    number = body + ric.calc_check_digit(body + "0")
    assert validate_id_number(number, today=TODAY) == number


def test_birth_before_1900():
    assert rejected("513223189912310010").code == "id_number_birth_date"


def test_fifteen_digit_first_generation_number():
    error = rejected("513223800101001")
    assert error.code == "id_number_legacy"
    assert "一代身份证已停用，请提供18位号码" in error.message


@pytest.mark.parametrize("raw", ["", "51322319800101001", "5132231980010100111", "51322319800101001Y", "X13223198001010011"])
def test_bad_format(raw):
    assert rejected(raw).code == "id_number_format"


def test_message_does_not_echo_the_number():
    error = rejected("110105194912310021")
    assert "110105" not in error.message and "110105" not in str(error)
