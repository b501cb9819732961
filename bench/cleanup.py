"""Benchmark: computing a cleanup proposal over 100,000 versions in PostgreSQL.

Workload (defaults): one tenant with 9,000 models and 1,000 datasets of 10 versions each
(100,000 versions), every version created 400 days ago with one file; 5% of the files share
their blob with the next version's; 30% of the versions pulled 10 days ago, the rest 300
days ago or never; one alias per model, a DEPLOYED inference service on 2% of the models'
versions, 5% of the models in production, and every model version trained on a dataset
version (lineage). The policy: enabled, dormant after 180 days, keep the newest 3.

It prints the time `proposal_create` takes (the candidate SQL, the INSERT ... SELECT of the
items, the deduplicated reclaimable bytes, the totals) and the process's peak RSS before and
after it (constant memory: no row of the result passes through Python), against a baseline
measured in the same run: the bare `SELECT` that ranks every version of the tenant by semantic
precedence, the floor of any "keep the newest N" rule. Then EXPLAIN ANALYZE of the model
versions' candidate query unless --no-plans.

The database (`registry_bench_cleanup` unless BENCH_DATABASE_URL says otherwise) is created,
loaded with COPY and dropped again; `--keep` keeps it and a later `--reuse` skips the load.

    .venv/bin/python bench/cleanup.py [--keep] [--reuse] [--runs 3]
"""

import argparse
import os
import random
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from machine import describe_machine  # bench/ is the script's folder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/registry_bench_cleanup"
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ.pop("REDIS_URL", None)
os.environ.pop("CELERY_BROKER_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DEBUG"] = "false"

VERSIONS_PER_ENTRY = 10
NOW = datetime.now(UTC)
CREATED = NOW - timedelta(days=400)
SHARED_BLOBS = 0.05
PULLED_RECENTLY, PULLED_LONG_AGO = 0.30, 0.30
DEPLOYED, PRODUCTION = 0.02, 0.05


def _admin(statement: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    with psycopg.connect(DATABASE_URL.replace(parts.path, "/postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(name)))


def database_exists() -> bool:
    import psycopg

    parts = urlsplit(DATABASE_URL)
    with psycopg.connect(DATABASE_URL.replace(parts.path, "/postgres"), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            [parts.path.lstrip("/")]).fetchone() is not None


def load(models: int, datasets: int, seed: int) -> dict[str, int]:
    """COPY the catalog in (bench/permissions.py's loader fills the other columns)."""
    from django.db import transaction
    from permissions import _copy, _reset_sequence

    from accounts.models import User
    from accounts.services import ensure_default_tenant
    from cleanup.models import RetentionPolicy
    from deployments.models import InferenceService, ServingEnvironment
    from registry.models import (
        ArtifactFile,
        Blob,
        Dataset,
        DatasetVersion,
        LineageLink,
        ModelAlias,
        ModelVersion,
        RegisteredModel,
        Status,
    )

    rng = random.Random(seed)
    tenant = ensure_default_tenant()
    owner = User.objects.create(username="bench-owner")
    counts = {}
    with transaction.atomic():
        columns = ["id", "tenant_id", "owner_id", "name", "status"]
        counts["models"] = _copy(RegisteredModel, columns, (
            (pk, tenant.pk, owner.pk, f"model-{pk}",
             Status.PRODUCTION if rng.random() < PRODUCTION else Status.TRAINING)
            for pk in range(1, models + 1)))
        counts["datasets"] = _copy(Dataset, ["id", "tenant_id", "owner_id", "name"], (
            (pk, tenant.pk, owner.pk, f"dataset-{pk}") for pk in range(1, datasets + 1)))

        def versions(entries: int):
            for entry in range(1, entries + 1):
                for minor in range(VERSIONS_PER_ENTRY):
                    pk = (entry - 1) * VERSIONS_PER_ENTRY + minor + 1
                    yield (pk, entry, f"1.{minor}.0", 1, minor, 0, "~", owner.pk, CREATED)

        columns = ["id", "model_id", "version", "version_major", "version_minor",
                   "version_patch", "version_prerelease", "created_by_id", "created_at"]
        counts["model versions"] = _copy(ModelVersion, columns, versions(models))
        counts["dataset versions"] = _copy(DatasetVersion, ["id", "dataset_id", *columns[2:]],
                                           versions(datasets))
        model_versions = models * VERSIONS_PER_ENTRY
        dataset_versions = datasets * VERSIONS_PER_ENTRY
        total = model_versions + dataset_versions
        counts["blobs"] = _copy(Blob, ["id", "tenant_id", "sha256", "size", "storage_key"], (
            (pk, tenant.pk, f"{pk:064x}", 1_000_000 + pk, f"bench/{pk}")
            for pk in range(1, total + 1)))

        def files():
            for pk in range(1, total + 1):
                blob = pk + 1 if rng.random() < SHARED_BLOBS and pk < total else pk
                roll = rng.random()
                pulled = (NOW - timedelta(days=10) if roll < PULLED_RECENTLY else
                          NOW - timedelta(days=300) if roll < PULLED_RECENTLY + PULLED_LONG_AGO
                          else None)
                model_version = pk if pk <= model_versions else None
                dataset_version = None if model_version else pk - model_versions
                yield (pk, tenant.pk, model_version, dataset_version, "model.bin", blob,
                       1_000_000 + blob, f"{blob:064x}", owner.pk, pulled)

        counts["files"] = _copy(ArtifactFile, [
            "id", "tenant_id", "model_version_id", "dataset_version_id", "path", "blob_id",
            "size", "sha256", "uploaded_by_id", "last_downloaded_at"], files())
        counts["aliases"] = _copy(ModelAlias, ["model_id", "name", "version_id"], (
            (entry, "champion", (entry - 1) * VERSIONS_PER_ENTRY + rng.randrange(
                VERSIONS_PER_ENTRY) + 1) for entry in range(1, models + 1)))
        counts["lineage links"] = _copy(LineageLink, ["model_version_id", "dataset_version_id"], (
            (pk, rng.randrange(dataset_versions) + 1) for pk in range(1, model_versions + 1)))
        for model in (RegisteredModel, Dataset, ModelVersion, DatasetVersion, Blob,
                      ArtifactFile):
            _reset_sequence(model)
        environment = ServingEnvironment.objects.create(tenant=tenant, name="edge")
        deployed = rng.sample(range(1, model_versions + 1), int(model_versions * DEPLOYED))
        InferenceService.objects.bulk_create(
            InferenceService(environment=environment, model_version_id=pk, name=f"svc-{pk}")
            for pk in deployed)
        counts["deployed services"] = len(deployed)
        RetentionPolicy.objects.create(tenant=tenant, enabled=True, dormant_days=180,
                                       keep_newest=3)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return counts


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(runs: int, show_plans: bool) -> None:
    from django.db import connection, transaction

    from accounts.services import ensure_default_tenant
    from cleanup import selectors, services
    from registry.catalog import MODEL
    from registry.models import Version

    tenant = ensure_default_tenant()
    policy = selectors.policy_of(tenant)
    order = ", ".join(f"{name.lstrip('-')} DESC" for name in Version.SEMVER_ORDER)
    baseline_sql = ("SELECT count(*) FROM (SELECT v.id, ROW_NUMBER() OVER (PARTITION BY "
                    f"v.model_id ORDER BY {order}) FROM registry_modelversion v JOIN "
                    "registry_registeredmodel e ON e.id = v.model_id WHERE e.tenant_id = %s) r")
    baselines, timings = [], []
    rss_before = peak_rss_mib()
    for _ in range(runs):
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(baseline_sql, [tenant.pk])
            cursor.fetchone()
            baselines.append(time.perf_counter() - started)
        # Each run is rolled back, so every run proposes the same versions.
        with transaction.atomic():
            started = time.perf_counter()
            proposal = services.proposal_create(tenant=tenant)
            timings.append(time.perf_counter() - started)
            summary = (proposal.item_count, proposal.size, proposal.reclaimable_bytes)
            transaction.set_rollback(True)
    rss_after = peak_rss_mib()
    items, size, reclaimable = summary
    proposal_s, baseline_s = statistics.median(timings), statistics.median(baselines)
    print(f"proposal: {items:,} items, {size / 2**30:.1f} GiB, {reclaimable / 2**30:.1f} GiB "
          "reclaimable after deduplication")
    print(f"proposal_create: median {proposal_s:.2f} s over {runs} runs "
          f"(min {min(timings):.2f}, max {max(timings):.2f}); target < 30 s")
    print(f"baseline (rank every model version, no filters): median {baseline_s:.3f} s; "
          f"proposal / baseline = {proposal_s / baseline_s:.1f}x")
    print(f"peak RSS: {rss_before:.0f} MiB before the runs, {rss_after:.0f} MiB after "
          f"(+{rss_after - rss_before:.0f} MiB)")
    if show_plans:
        select, params = selectors.candidates_sql(
            MODEL, tenant_id=tenant.pk, dormant_days=policy.dormant_days,
            keep_newest=policy.keep_newest, now=datetime.now(UTC))
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {select}", params)
            print("\nEXPLAIN ANALYZE, model versions' candidates:")
            print("\n".join(row[0] for row in cursor.fetchall()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=9_000)
    parser.add_argument("--datasets", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a database kept by an earlier --keep run")
    parser.add_argument("--no-plans", action="store_true", help="skip the EXPLAIN output")
    args = parser.parse_args()

    print(f"machine: {describe_machine()}")
    versions = (args.models + args.datasets) * VERSIONS_PER_ENTRY
    print(f"workload: {args.models:,} models and {args.datasets:,} datasets x "
          f"{VERSIONS_PER_ENTRY} versions = {versions:,} versions, one file each; keep the "
          "newest 3, dormant after 180 days")
    reuse = args.reuse and database_exists()
    if not reuse:
        _admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        _admin("CREATE DATABASE {}")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    try:
        call_command("migrate", verbosity=0)
        if not reuse:
            started = time.perf_counter()
            counts = load(args.models, args.datasets, args.seed)
            print("loaded in " + f"{time.perf_counter() - started:.0f} s: "
                  + ", ".join(f"{name} {value:,}" for name, value in counts.items()))
        measure(args.runs, show_plans=not args.no_plans)
    finally:
        if not args.keep:
            connections.close_all()
            _admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")


if __name__ == "__main__":
    main()
