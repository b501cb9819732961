"""User regex filters (issue 21, item 2): RE2 runs them in linear time, a pattern it cannot run
is refused with `invalid_pattern`, and on PostgreSQL a slow statement answers
`pattern_timeout`. The time bound itself is measured by bench/regex_filter.py."""

import pytest
from django.db import connection

from accounts.errors import CodedValidationError
from config.user_patterns import USER_PATTERN_MARKER, user_pattern_statement_timeout
from tests.factories import RegisteredModelFactory

pytestmark = pytest.mark.django_db
MODELS = "query($f: RegisteredModelFilter) { models(filters: $f) { edges { node { name } } } }"
TAGS = "query($f: TagFilter) { tags(filters: $f) { edges { node { name } } } }"


def names(result) -> list[str]:
    return sorted(edge["node"]["name"] for edge in result.data["models"]["edges"])


@pytest.fixture
def catalog(maintainer, default_tenant):
    for name in ("resnet50", "ResNet-18", "yolo-v8", "a" * 40 + "-"):
        RegisteredModelFactory(tenant=default_tenant, owner=maintainer, name=name)


def test_a_catastrophic_pattern_matches_in_linear_time(gql, catalog):
    # Python's re backtracks 2**40 ways on the 41-character name; RE2 answers at once.
    result = gql(MODELS, {"f": {"name": {"regex": "(a+)+$"}}})

    assert names(result) == []


@pytest.mark.parametrize(("lookup", "pattern", "expected"), [
    ("regex", "^res", ["resnet50"]),
    ("iRegex", "^res", ["ResNet-18", "resnet50"]),
    ("regex", r"-v\d\d$", []),
    ("regex", r"-v\d+$", ["yolo-v8"]),
    ("iRegex", "NET-?[0-9]+$", ["ResNet-18", "resnet50"]),
])
def test_patterns_match_as_before(gql, catalog, lookup, pattern, expected):
    assert names(gql(MODELS, {"f": {"name": {lookup: pattern}}})) == expected


@pytest.mark.parametrize("pattern", ["(", "(a)\\1", "(?=a)b", "a(?!b)", "x" * 201, "a{1001}"])
@pytest.mark.parametrize("lookup", ["regex", "iRegex"])
def test_a_pattern_re2_cannot_run_is_refused_with_a_code(gql, catalog, lookup, pattern):
    for query, variables in ((MODELS, {"f": {"name": {lookup: pattern}}}),
                             (MODELS, {"f": {"projectName": {lookup: pattern}}}),
                             (TAGS, {"f": {"name": {lookup: pattern}}})):
        body = gql(query, variables).body

        assert body["data"] is None
        assert [error["extensions"] for error in body["errors"]] == [{"code": "invalid_pattern"}]
        assert "Traceback" not in body["errors"][0]["message"]


def test_anonymous_callers_get_the_same_refusal(gql_as, catalog):
    body = gql_as()(MODELS, {"f": {"name": {"regex": "(a)\\1"}}}).body

    assert [error["extensions"] for error in body["errors"]] == [{"code": "invalid_pattern"}]


@pytest.mark.parametrize("lookup", ["regex", "iRegex"])
def test_the_longest_allowed_pattern_is_accepted(gql, catalog, settings, lookup):
    pattern = "^" + "a?" * ((settings.USER_PATTERN_MAX_LENGTH - 1) // 2) + "."
    assert len(pattern) == settings.USER_PATTERN_MAX_LENGTH

    assert len(names(gql(MODELS, {"f": {"name": {lookup: pattern}}}))) == 4


def needs_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's statement_timeout: run with DATABASE_URL=postgres://…")


def test_on_postgresql_a_marked_statement_over_its_timeout_answers_pattern_timeout(settings):
    needs_postgresql()
    settings.USER_PATTERN_STATEMENT_TIMEOUT_MS = 50

    with connection.execute_wrapper(user_pattern_statement_timeout), \
            connection.cursor() as cursor, pytest.raises(CodedValidationError) as refused:
        cursor.execute(f"SELECT pg_sleep(2) {USER_PATTERN_MARKER}")

    assert refused.value.error_dict["regex"][0].code == "pattern_timeout"
    with connection.cursor() as cursor:  # the caller's own statements keep their timeout
        cursor.execute("SELECT current_setting('statement_timeout'), pg_sleep(0.1)")
        assert cursor.fetchone()[0] == "0"


def test_on_postgresql_a_regex_filter_runs_under_the_timeout(gql, catalog, settings):
    needs_postgresql()
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        result = gql(MODELS, {"f": {"name": {"regex": "^res"}}})

    assert names(result) == ["resnet50"]
    sql = [query["sql"] for query in queries]
    timeout = f"set_config('statement_timeout', '{settings.USER_PATTERN_STATEMENT_TIMEOUT_MS}'"
    marked = [text for text in sql if USER_PATTERN_MARKER in text]
    assert len(marked) == 1
    assert sum(timeout in text for text in sql) == len(marked)
