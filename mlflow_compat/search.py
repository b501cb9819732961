"""MLflow's search syntax for registered models and model versions, as Django filters.

Supported: clauses joined by AND; attributes `name`, and for versions `run_id`,
`source_path`, `version_number`; tags as ``tag.key``/``tags.key`` (keys with dots
back-quoted or double-quoted, as the client writes ``tag.`mlflow.prompt.is_prompt```);
`=`, `!=`, `LIKE`, `ILIKE`, and `IN (...)` for `run_id`. A tag compared with `!=` matches
rows that lack the tag, as in MLflow. Anything else is INVALID_PARAMETER_VALUE.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from mlflow_compat.errors import invalid_parameter

TOKEN_RE = re.compile(r"""
    \s*(?:
      (?P<backquoted>`[^`]*`)
    | (?P<string>'[^']*'|"[^"]*")
    | (?P<op>!=|<>|=|\(|\)|,)
    | (?P<number>-?\d+(?![\w.]))
    | (?P<word>[A-Za-z_][\w.]*)
    )""", re.VERBOSE)

COMPARATORS = {"=", "!=", "LIKE", "ILIKE", "IN"}


@dataclass(frozen=True)
class Clause:
    attribute: str | None  # None for a tag
    key: str  # the tag key (or the metadata key an attribute is kept in), or the attribute
    operator: str
    value: str | tuple[str, ...]


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = TOKEN_RE.match(text, position)
        if match is None or match.end() == position:
            raise invalid_parameter(f"Invalid filter {text!r}: cannot parse at {position}.")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _unquote(token: tuple[str, str]) -> str:
    kind, value = token
    return value[1:-1] if kind in ("backquoted", "string") else value


def parse_filter(text: str | None) -> list[Clause]:
    tokens = _tokens(text or "")
    clauses, index = [], 0
    while index < len(tokens):
        if clauses:
            kind, word = tokens[index]
            if kind != "word" or word.upper() != "AND":
                raise invalid_parameter(f"Invalid filter {text!r}: only AND joins clauses.")
            index += 1
        clause, index = _clause(tokens, index, text)
        clauses.append(clause)
    return clauses


def _clause(tokens: list[tuple[str, str]], index: int, text: str) -> tuple[Clause, int]:
    def take() -> tuple[str, str]:
        nonlocal index
        if index >= len(tokens):
            raise invalid_parameter(f"Invalid filter {text!r}: incomplete clause.")
        index += 1
        return tokens[index - 1]

    kind, identifier = take()
    if kind == "backquoted":
        identifier = identifier[1:-1]
    elif kind != "word":
        raise invalid_parameter(f"Invalid filter {text!r}: expected an attribute or a tag.")
    prefix, dot, key = identifier.partition(".")
    if dot and prefix.lower() in ("tag", "tags"):
        if not key:  # tag.`quoted key`
            quoted = take()
            if quoted[0] not in ("backquoted", "string"):
                raise invalid_parameter(f"Invalid filter {text!r}: expected a tag key.")
            key = _unquote(quoted)
        attribute = None
    else:
        attribute = key = identifier.lower()
    operator = take()[1].upper()
    if operator == "<>":
        operator = "!="
    if operator not in COMPARATORS:
        raise invalid_parameter(f"Invalid filter {text!r}: unsupported comparator {operator!r}.")
    if operator == "IN":
        if take() != ("op", "("):
            raise invalid_parameter(f"Invalid filter {text!r}: IN takes a parenthesised list.")
        values = []
        while True:
            value = take()
            if value[0] not in ("string", "number"):
                raise invalid_parameter(f"Invalid filter {text!r}: expected a value.")
            values.append(_unquote(value))
            separator = take()
            if separator == ("op", ")"):
                break
            if separator != ("op", ","):
                raise invalid_parameter(f"Invalid filter {text!r}: expected ',' or ')'.")
        return Clause(attribute, key, operator, tuple(values)), index
    value = take()
    if value[0] not in ("string", "number"):
        raise invalid_parameter(f"Invalid filter {text!r}: expected a quoted value.")
    return Clause(attribute, key, operator, _unquote(value)), index


def like_regex(pattern: str) -> str:
    """SQL LIKE (`%` any run, `_` one character) as an anchored regular expression."""
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return f"^{''.join(parts)}$"


def value_condition(field: str, operator: str, value) -> Q:
    if operator == "=":
        return Q(**{field: value})
    if operator == "!=":
        return ~Q(**{field: value})
    if operator == "LIKE":
        return Q(**{f"{field}__regex": like_regex(value)})
    if operator == "ILIKE":
        return Q(**{f"{field}__iregex": like_regex(value)})
    return Q(**{f"{field}__in": value})


def tag_condition(metadata: QuerySet, clause: Clause) -> Q:
    """Rows whose metadata entry `clause.key` compares true; `!=` also matches a missing one."""
    if clause.attribute is None and clause.operator == "IN":
        raise invalid_parameter("Tags are compared with =, !=, LIKE or ILIKE.")
    rows = metadata.filter(owner=OuterRef("pk"), key__name=clause.key)
    if clause.operator == "!=":
        return ~Q(Exists(rows.filter(value=clause.value)))
    return Q(Exists(rows.filter(value_condition("value", clause.operator, clause.value))))


# --- Ordering and pages --------------------------------------------------------------------

def order_fields(order_by: list[str], columns: dict[str, str], default: list[str]) -> list[str]:
    """`["name ASC", "last_updated_timestamp DESC"]` as Django `order_by` arguments."""
    fields = []
    for clause in order_by:
        column, _, direction = clause.strip().partition(" ")
        direction = direction.strip().upper() or "ASC"
        column = column.strip("`")
        if column not in columns or direction not in ("ASC", "DESC"):
            raise invalid_parameter(
                f"Invalid order_by clause {clause!r}: use one of {', '.join(sorted(columns))} "
                "with ASC or DESC.")
        fields.append(("-" if direction == "DESC" else "") + columns[column])
    return [*fields, *default]


def page_offset(token: str | None) -> int:
    """MLflow's page tokens: base64 of `{"offset": N}`."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.b64decode(token, validate=True))["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError) as error:
        raise invalid_parameter("Invalid page token.") from error
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise invalid_parameter("Invalid page token.")
    return offset


def page_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def max_results(value, *, default: int, limit: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise invalid_parameter(f"Invalid max_results {value!r}.") from error
    if not 1 <= number <= limit:
        raise invalid_parameter(f"max_results must be between 1 and {limit}.")
    return number
