"""Benchmark: a GraphQL page of 100 models under object permissions, in PostgreSQL.

Workload (defaults): one tenant with 100,000 registered models (about 1.5% public, the rest
private), ~2 versions and 3 tags each; 1,000 users (1 admin, 200 maintainers who own the
models, viewers), 100 groups of the tenant with ~30 members each; about 1,000,000 guardian
permission rows in the direct foreign-key tables (users and groups; view, change and manage).

For three callers it prints p50/p95 of the page `models(first: 100) { edges { node { id name
visibility owner tags latestVersion } } }`, with and without `totalCount`, executed through the
real schema with the caller's Actor; the part of it spent in SQL; the SQL queries per page (at
10 and at 100 models, to show they are constant; they include the grant-count hint's query,
which a server runs once a minute per user, so the timed pages find it remembered); and
EXPLAIN (ANALYZE, BUFFERS) of each query of the page:
- `few`: a viewer in no group with a handful of direct shares (sees the public models and those);
- `many`: a viewer with ~40,000 direct shares who is in three groups;
- `admin`: the tenant admin, who sees everything.
The baseline measured in the same run is the bare SQL `SELECT ... WHERE tenant ORDER BY name
LIMIT 100` (no permissions, no relations): the floor any page costs.

The database (`registry_bench_permissions` unless BENCH_DATABASE_URL says otherwise) is created,
loaded with COPY and dropped again; `--keep` keeps it and a later `--reuse` skips the load.

    .venv/bin/python bench/permissions.py [--keep] [--reuse] [--runs 50]
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from machine import describe_machine  # bench/ is the script's folder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/registry_bench_permissions"
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ.pop("REDIS_URL", None)  # no cache, no broker: measure the database path only
os.environ.pop("CELERY_BROKER_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DEBUG"] = "false"

PAGE_QUERY = """
query Page($first: Int!, $count: Boolean!) {
  models(first: $first) {
    totalCount @include(if: $count)
    edges { node { id name visibility owner { username } tags { name }
                   latestVersion { id version } } }
  }
}
"""

PUBLIC_SHARE = 0.015
MAINTAINERS = 200
GROUP_SHARES = 1_500          # models shared with each group
HEAVY_USERS = 10              # users with HEAVY_SHARES direct shares each
HEAVY_SHARES = 40_000
LIGHT_SHARES = 400            # average direct shares of every other user
FEW_SHARES = 20


# --- database lifecycle --------------------------------------------------------------------

def _admin_connection():
    import psycopg

    parts = urlsplit(DATABASE_URL)
    return psycopg.connect(DATABASE_URL.replace(parts.path, "/postgres"), autocommit=True)


def _database_name() -> str:
    return urlsplit(DATABASE_URL).path.lstrip("/")


def database_exists() -> bool:
    with _admin_connection() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            [_database_name()]).fetchone() is not None


def database_create() -> None:
    from psycopg import sql

    with _admin_connection() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(_database_name())))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_database_name())))


def database_drop() -> None:
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    with _admin_connection() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(_database_name())))


# --- loading ---------------------------------------------------------------------------------

def _copy(model, columns: list[str], rows) -> int:
    """COPY `rows` into `model`'s table; other non-null columns get their model defaults."""
    from django.db import connection

    now = datetime.now(UTC)
    extra_columns, extra_values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.column in columns or field.null:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = field.get_default()
            if isinstance(value, dict | list):
                value = json.dumps(value)
        extra_columns.append(field.column)
        extra_values.append(value)
    names = ", ".join(f'"{c}"' for c in [*columns, *extra_columns])
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor
        with raw.copy(f'COPY "{model._meta.db_table}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row((*row, *extra_values))
                count += 1
    return count


def _reset_sequence(model) -> None:
    from django.db import connection

    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                       f"(SELECT max(id) FROM \"{table}\"))")


def load(models_count: int, users_count: int, groups_count: int, seed: int) -> dict:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, Permission
    from django.db import connection, transaction

    from accounts.models import Membership, Role, TenantGroup, User
    from accounts.services import ensure_default_tenant
    from registry.models import (
        ModelVersion,
        RegisteredModel,
        RegisteredModelGroupObjectPermission,
        RegisteredModelUserObjectPermission,
        Tag,
        Visibility,
    )

    rng = random.Random(seed)
    tenant = ensure_default_tenant()
    counts: dict[str, int] = {}
    started = time.perf_counter()
    password = make_password("bench-password")
    with transaction.atomic():
        user_ids = list(range(1, users_count + 1))
        counts["users"] = _copy(User, ["id", "username", "password", "is_active",
                                       "is_superuser", "is_staff"],
                                ((uid, f"user{uid}", password, True, False, False)
                                 for uid in user_ids))
        _reset_sequence(User)
        admin_id, few_id = user_ids[0], user_ids[-1]
        maintainer_ids = user_ids[1:1 + MAINTAINERS]
        heavy_ids = user_ids[1 + MAINTAINERS:1 + MAINTAINERS + HEAVY_USERS]
        many_id = heavy_ids[0]

        def role(uid: int) -> str:
            if uid == admin_id:
                return Role.ADMIN
            return Role.MAINTAINER if uid in maintainer_ids else Role.VIEWER

        maintainer_ids = set(maintainer_ids)
        _copy(Membership, ["user_id", "tenant_id", "role"],
              ((uid, tenant.pk, role(uid)) for uid in user_ids))

        group_ids = list(range(1, groups_count + 1))
        _copy(Group, ["id", "name"], ((gid, f"bench-group-{gid}") for gid in group_ids))
        _reset_sequence(Group)
        _copy(TenantGroup, ["tenant_id", "group_id", "name"],
              ((tenant.pk, gid, f"group-{gid}") for gid in group_ids))
        memberships = {uid: rng.sample(group_ids, rng.randint(1, 5)) for uid in user_ids
                       if uid not in (few_id, many_id)}
        memberships[many_id] = group_ids[:3]
        _copy(User.groups.through, ["user_id", "group_id"],
              ((uid, gid) for uid, gids in memberships.items() for gid in gids))

        tag_ids = list(range(1, 51))
        _copy(Tag, ["id", "tenant_id", "name", "usage"],
              ((tid, tenant.pk, f"tag-{tid}", "folk") for tid in tag_ids))
        _reset_sequence(Tag)

        model_ids = list(range(1, models_count + 1))
        owners = {mid: rng.choice(sorted(maintainer_ids)) for mid in model_ids}
        public = set(rng.sample(model_ids, int(models_count * PUBLIC_SHARE)))
        counts["models"] = _copy(
            RegisteredModel,
            ["id", "tenant_id", "owner_id", "name", "visibility", "description"],
            ((mid, tenant.pk, owners[mid], f"model-{rng.getrandbits(40):010x}-{mid}",
              Visibility.PUBLIC if mid in public else Visibility.PRIVATE,
              "benchmark model") for mid in model_ids),
        )
        _reset_sequence(RegisteredModel)
        counts["model tags"] = _copy(
            RegisteredModel.tags.through, ["registeredmodel_id", "tag_id"],
            ((mid, tid) for mid in model_ids for tid in rng.sample(tag_ids, 3)),
        )

        def versions():
            for mid in model_ids:
                for minor in range(rng.randint(1, 3)):
                    yield (mid, f"1.{minor}.0", 1, minor, 0, "~", owners[mid])

        counts["model versions"] = _copy(
            ModelVersion, ["model_id", "version", "version_major", "version_minor",
                           "version_patch", "version_prerelease", "created_by_id"],
            versions(),
        )
        # What services.latest_version_refresh keeps: the newest version by precedence.
        with connection.cursor() as cursor:
            cursor.execute(
                'UPDATE "registry_registeredmodel" m SET "latest_version_id" = v."id" '
                'FROM (SELECT DISTINCT ON ("model_id") "id", "model_id" '
                '      FROM "registry_modelversion" ORDER BY "model_id", '
                '      "version_major" DESC, "version_minor" DESC, "version_patch" DESC, '
                '      "version_prerelease" DESC) v WHERE v."model_id" = m."id"')

        permission_ids = {
            level: Permission.objects.get(codename=f"{level}_registeredmodel").pk
            for level in ("view", "change", "manage")
        }

        def levels() -> list[int]:
            """Cumulative rows of one grant: view; view+change; view+change+manage."""
            draw = rng.random()
            granted = (["view", "change", "manage"] if draw < 0.02
                       else ["view", "change"] if draw < 0.12 else ["view"])
            return [permission_ids[level] for level in granted]

        private_ids = [mid for mid in model_ids if mid not in public]

        def user_rows():
            for uid in user_ids:
                if uid == admin_id:
                    continue
                size = (HEAVY_SHARES if uid in heavy_ids else FEW_SHARES if uid == few_id
                        else rng.randint(LIGHT_SHARES // 2, LIGHT_SHARES * 3 // 2))
                for mid in rng.sample(private_ids, size):
                    for permission_id in levels():
                        yield (uid, permission_id, mid)

        def group_rows():
            for gid in group_ids:
                for mid in rng.sample(private_ids, GROUP_SHARES):
                    for permission_id in levels():
                        yield (gid, permission_id, mid)

        counts["user permission rows"] = _copy(
            RegisteredModelUserObjectPermission,
            ["user_id", "permission_id", "content_object_id"], user_rows())
        counts["group permission rows"] = _copy(
            RegisteredModelGroupObjectPermission,
            ["group_id", "permission_id", "content_object_id"], group_rows())
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    counts["load seconds"] = round(time.perf_counter() - started, 1)
    return counts


# --- measuring -------------------------------------------------------------------------------

def _actor(username: str):
    from accounts.models import Tenant, User
    from accounts.selectors import actor_for

    return actor_for(user=User.objects.get(username=username),
                     tenant=Tenant.objects.get(is_default=True))


def _execute(actor, first: int, count: bool = True):
    from django.test import RequestFactory

    from config.graphql_context import RegistryContext
    from config.schema import schema

    result = schema.execute_sync(
        PAGE_QUERY, variable_values={"first": first, "count": count},
        context_value=RegistryContext(request=RequestFactory().post("/graphql/"),
                                      response=None, actor=actor),
    )
    if result.errors:
        raise RuntimeError(result.errors)
    return result.data["models"]


def _queries(actor, first: int) -> list[str]:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cache.clear()  # count the grant-count hint's query, which a page runs once a minute
    with CaptureQueriesContext(connection) as captured:
        _execute(actor, first)
    return [query["sql"] for query in captured.captured_queries]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (statistics.median(ordered),
            ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))])


class _SqlClock:
    """Time spent inside the database driver, summed over one page."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def _time(function, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock milliseconds of each run, and the part of them spent in SQL."""
    from django.db import connection

    for _ in range(3):
        function()
    samples, sql_samples = [], []
    for _ in range(runs):
        clock = _SqlClock()
        with connection.execute_wrapper(clock):
            started = time.perf_counter()
            function()
            samples.append((time.perf_counter() - started) * 1000)
        sql_samples.append(clock.seconds * 1000)
    return samples, sql_samples


def _explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def _machine() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    return f"{describe_machine()}; PostgreSQL {server}"


def callers(users_count: int) -> dict[str, str]:
    """The measured callers' usernames: ids follow the order `load` gives the roles."""
    return {"few": f"user{users_count}", "many": f"user{MAINTAINERS + 2}", "admin": "user1"}


def measure(runs: int, users_count: int, show_plans: bool) -> None:
    from django.db import connection

    from accounts.models import Tenant
    from config.startup import freeze_startup_objects
    from registry.models import (
        RegisteredModel,
        RegisteredModelGroupObjectPermission,
        RegisteredModelUserObjectPermission,
    )

    freeze_startup_objects()  # as the server's workers do once loaded (config/wsgi.py)
    tenant = Tenant.objects.get(is_default=True)
    print(f"machine: {_machine()}")
    print(f"workload: {RegisteredModel.objects.count():,} models "
          f"({RegisteredModel.objects.filter(visibility='public').count():,} public), "
          f"{RegisteredModelUserObjectPermission.objects.count():,} user and "
          f"{RegisteredModelGroupObjectPermission.objects.count():,} group permission rows; "
          f"{runs} runs per caller after 3 warm-ups")

    def baseline():
        with connection.cursor() as cursor:
            cursor.execute('SELECT "id", "name" FROM "registry_registeredmodel" '
                           'WHERE "tenant_id" = %s ORDER BY "name" LIMIT 100', [tenant.pk])
            cursor.fetchall()

    base_p50, base_p95 = _percentiles(_time(baseline, runs)[0])
    print(f"baseline (bare SQL page, no permissions): p50 {base_p50:.2f} ms, "
          f"p95 {base_p95:.2f} ms")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print("ms per page: wall-clock p50/p95, and p50 of the part spent in SQL")
    print(f"{'caller':<7} {'visible':>8} | {'page p50':>8} {'p95':>6} {'SQL':>6} | "
          f"{'+totalCount p50':>15} {'p95':>6} {'SQL':>6} | {'p50/admin':>9} | "
          f"{'queries@10':>10} {'@100':>5}")
    rows, plans = {}, {}
    for label, username in callers(users_count).items():
        actor = _actor(username)
        visible = _execute(actor, 100)["totalCount"]
        figures = []
        for count in (False, True):
            samples, sql_samples = _time(
                lambda actor=actor, count=count: _execute(actor, 100, count), runs)
            figures.append((*_percentiles(samples), statistics.median(sql_samples)))
        at_10, at_100 = _queries(actor, 10), _queries(actor, 100)
        plans[label] = [_explain(sql) for sql in at_100]
        rows[label] = (visible, figures, len(at_10), len(at_100))
    admin_p50 = rows["admin"][1][0][0]
    for label, (visible, figures, at_10, at_100) in rows.items():
        (p50, p95, sql), (c50, c95, csql) = figures
        print(f"{label:<7} {visible:>8,} | {p50:>8.1f} {p95:>6.1f} {sql:>6.1f} | "
              f"{c50:>15.1f} {c95:>6.1f} {csql:>6.1f} | {p50 / admin_p50:>8.2f}x | "
              f"{at_10:>10} {at_100:>5}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if show_plans:
        for label, queries in plans.items():
            print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the page's queries, caller `{label}` "
                  "(the grant-count hint, except for the admin; the main query; the "
                  "prefetches; the COUNT):")
            for plan in queries:
                print(plan)
                print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a database kept by an earlier --keep run")
    parser.add_argument("--no-plans", action="store_true", help="skip the EXPLAIN output")
    args = parser.parse_args()

    reuse = args.reuse and database_exists()
    if not reuse:
        database_create()
    import django

    django.setup()
    from django.core.management import call_command

    try:
        call_command("migrate", verbosity=0)
        if not reuse:
            counts = load(args.models, args.users, args.groups, args.seed)
            print("loaded: " + ", ".join(f"{name} {value:,}" for name, value in counts.items()))
        measure(args.runs, args.users, show_plans=not args.no_plans)
    finally:
        if not args.keep:
            database_drop()


if __name__ == "__main__":
    main()
