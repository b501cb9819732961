"""User-supplied regular expressions (the `regex` and `iRegex` filters) run in linear time.

Django evaluates REGEXP on SQLite with Python's `re`, which backtracks: a viewer's `(a+)+$`
took seconds on one 26-character name, doubling with each character. Here every pattern is
compiled with RE2 (google-re2: no backtracking, time linear in the text) before any SQL is
built, and one RE2 cannot compile — syntax errors, backreferences, lookarounds, over
USER_PATTERN_MAX_LENGTH — is refused with `invalid_pattern`. On SQLite, REGEXP itself is
RE2. On PostgreSQL, whose own engine runs the match, each statement carrying a user pattern
runs under `statement_timeout` = USER_PATTERN_STATEMENT_TIMEOUT_MS and a cancelled one
answers `pattern_timeout`.
"""

from functools import lru_cache

import re2
from django.conf import settings
from django.db import DataError, OperationalError, transaction
from django.db.backends.signals import connection_created
from django.db.models import Field
from django.db.models.lookups import IRegex, Regex

from accounts.errors import CodedValidationError
from config.graphql_limits import ApiErrorCode

# Marks the SQL of a statement that matches a user pattern (PostgreSQL only).
USER_PATTERN_MARKER = "/* user pattern */"
QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE of a statement cancelled by its timeout


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the caller's mistake, not a server log
    return options


def compile_user_pattern(pattern: str) -> re2._Regexp:
    """The RE2 program of `pattern`, or `invalid_pattern`."""
    if len(pattern) > settings.USER_PATTERN_MAX_LENGTH:
        raise _invalid(f"Patterns have at most {settings.USER_PATTERN_MAX_LENGTH} characters.")
    return _compiled(pattern)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re2._Regexp:
    try:
        return re2.compile(pattern, _options())
    except re2.error as error:
        raise _invalid(
            "Not a pattern this server runs (RE2 syntax: no backreferences or lookarounds): "
            f"{error.args[0].decode() if isinstance(error.args[0], bytes) else error}."
        ) from error


def _invalid(message: str) -> CodedValidationError:
    return CodedValidationError({"regex": message}, code=ApiErrorCode.INVALID_PATTERN)


class UserPatternLookup:
    """`regex`/`iregex` of every field: the pattern is checked with RE2 when the filter is
    built, and PostgreSQL's statement is marked for `user_pattern_statement_timeout`."""

    def get_prep_lookup(self):
        if isinstance(self.rhs, str):
            compile_user_pattern(self.rhs)
        return super().get_prep_lookup()

    def as_sql(self, compiler, connection):
        sql, params = super().as_sql(compiler, connection)
        if connection.vendor == "postgresql":
            sql = f"{sql} {USER_PATTERN_MARKER}"
        return sql, params


class UserPatternRegex(UserPatternLookup, Regex):
    pass


class UserPatternIRegex(UserPatternLookup, IRegex):
    pass


def _sqlite_regexp(pattern: str | None, string) -> bool | None:
    # SQLite's `x REGEXP y` calls regexp(y, x); iregex prefixes the pattern with (?i).
    if pattern is None or string is None:
        return None
    # Checked when the filter was built; iregex's "(?i)" prefix must not count against it.
    return _compiled(pattern).search(str(string)) is not None


def use_re2_for_sqlite_regexp(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("REGEXP", 2, _sqlite_regexp, deterministic=True)


def user_pattern_statement_timeout(execute, sql, params, many, context):
    """An execute wrapper: a marked statement runs in a transaction whose statement_timeout
    is USER_PATTERN_STATEMENT_TIMEOUT_MS; cancelled, it answers `pattern_timeout`."""
    if USER_PATTERN_MARKER not in sql:
        return execute(sql, params, many, context)
    connection = context["connection"]
    nested = connection.in_atomic_block
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if nested:  # SET LOCAL would outlive this statement: restore the caller's value
            cursor.execute("SELECT current_setting('statement_timeout')")
            previous = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('statement_timeout', %s, true)",
                       [str(settings.USER_PATTERN_STATEMENT_TIMEOUT_MS)])
        try:
            result = execute(sql, params, many, context)
        except OperationalError as error:
            if getattr(error.__cause__, "sqlstate", None) == QUERY_CANCELED:
                raise CodedValidationError(
                    {"regex": "The pattern took too long to match; use a simpler one."},
                    code=ApiErrorCode.PATTERN_TIMEOUT) from error
            raise
        except DataError as error:  # valid RE2 that PostgreSQL's syntax refuses
            raise _invalid("Not a pattern this server runs.") from error
        if nested:
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
        return result


def install() -> None:
    Field.register_lookup(UserPatternRegex, lookup_name="regex")
    Field.register_lookup(UserPatternIRegex, lookup_name="iregex")
    connection_created.connect(use_re2_for_sqlite_regexp,
                               dispatch_uid="config.user_patterns.sqlite_regexp")
