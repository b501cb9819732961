"""MLflow's filter syntax, page tokens and order_by, parsed without a server."""

import pytest

from mlflow_compat.errors import MlflowError
from mlflow_compat.search import (
    Clause,
    like_regex,
    order_fields,
    page_offset,
    page_token,
    parse_filter,
)


@pytest.mark.parametrize(("text", "clauses"), [
    ("", []),
    ("name = 'a b'", [Clause("name", "name", "=", "a b")]),
    ('NAME like "x%"', [Clause("name", "name", "LIKE", "x%")]),
    ("tag.`mlflow.prompt.is_prompt` != 'true'",
     [Clause(None, "mlflow.prompt.is_prompt", "!=", "true")]),
    ("tags.team <> 'x' and `name` ILIKE '%'",
     [Clause(None, "team", "!=", "x"), Clause("name", "name", "ILIKE", "%")]),
    ('tag."a key" = \'v\'', [Clause(None, "a key", "=", "v")]),
    ("run_id IN ('a', 'b')", [Clause("run_id", "run_id", "IN", ("a", "b"))]),
    ("version_number = 3", [Clause("version_number", "version_number", "=", "3")]),
])
def test_parse(text, clauses):
    assert parse_filter(text) == clauses


@pytest.mark.parametrize("text", [
    "name", "name =", "= 'a'", "name = 'a' name = 'b'", "name = 'a' OR name = 'b'",
    "name ~ 'a'", "run_id IN 'a'", "run_id IN ('a' 'b')", "tag. = 'a'", "name = 'unclosed",
])
def test_parse_refuses(text):
    with pytest.raises(MlflowError) as raised:
        parse_filter(text)
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"


def test_like_regex_escapes_everything_but_the_wildcards():
    assert like_regex("a.b%c_") == r"^a\.b.*c.$"
    assert like_regex("(x)+") == r"^\(x\)\+$"


def test_page_tokens_round_trip_and_refuse_garbage():
    assert page_offset(page_token(40)) == 40
    assert page_offset(None) == 0
    for token in ("x", page_token(-1), "eyJvZmZzZXQiOiAidHdvIn0=", "bnVsbA=="):
        with pytest.raises(MlflowError):
            page_offset(token)


def test_order_fields():
    columns = {"name": "name", "creation_timestamp": "created_at"}
    assert order_fields(["creation_timestamp DESC", "name"], columns, ["pk"]) == [
        "-created_at", "name", "pk"]
    with pytest.raises(MlflowError):
        order_fields(["name SIDEWAYS"], columns, ["pk"])
