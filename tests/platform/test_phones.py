import pytest

from erma.errors import ValidationFailed
from erma.phones import validate_mobile


@pytest.mark.parametrize(
    "raw",
    [
        "13908370101",
        "139 0837 0101",
        "139-0837-0101",
        "+86 139 0837 0101",
        "+8613908370101",
        "8613908370101",
        "0086 13908370101",
        "１３９０８３７０１０１",
        "＋８６１３９０８３７０１０１",
    ],
)
def test_accepted_forms(raw):
    assert validate_mobile(raw) == "13908370101"


@pytest.mark.parametrize("raw", ["17012345678", "19212345678", "16612345678", "18812345678"])
def test_newer_prefixes(raw):
    assert validate_mobile(raw) == raw


def rejected(raw: str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        validate_mobile(raw)
    assert caught.value.field == "phone"
    return caught.value


@pytest.mark.parametrize(
    "raw",
    ["", "1390837010", "139083701011", "12345678901", "10012345678", "139abc01010", "4008123123", "95555", "+85291234567"],
)
def test_invalid(raw):
    error = rejected(raw)
    assert error.code == "phone_invalid"
    assert "手机号码" in error.message


def test_invalid_message():
    assert rejected("12345678901").message == "手机号码格式不对，请输入11位手机号码"


@pytest.mark.parametrize("raw", ["0837-6221234", "(0837)6221234", "08376221234", "028-86123456", "6221234"])
def test_landline_asks_for_a_mobile(raw):
    error = rejected(raw)
    assert error.code == "phone_landline"
    assert "手机号码" in error.message
