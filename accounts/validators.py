import re

from accounts.errors import CodedValidationError, CommonErrorCode

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\Z")


def validate_name(value: str, field: str = "name") -> str:
    """The names of catalog entries and groups."""
    if not NAME_RE.match(value or ""):
        raise CodedValidationError(
            {field: f"{value!r}: use 1-200 letters, digits, '.', '_' or '-', starting with a "
                    "letter or digit."},
            code=CommonErrorCode.INVALID_NAME,
        )
    return value


def is_database_id(value: str) -> bool:
    """A primary key as written in a global id: ASCII digits only (`str.isdigit` and `int`
    also accept other scripts' digits, so "١" would be 1), within a bigint."""
    return value.isascii() and value.isdigit() and len(value) <= 18
