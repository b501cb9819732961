"""Benchmark: the scanning pipeline's throughput, in files per second, over 1,000 small files.

    .venv/bin/python bench/scan_worker.py [--files 1000] [--concurrency 1 2] [--keep]

Workload: FILES small files (a few hundred bytes to 2 KB: text, .npy, safetensors, a PyTorch
checkpoint, a malicious pickle, in turn; every one with distinct bytes) stored on the
filesystem, rows in PostgreSQL (`registry_h6_bench` unless BENCH_DATABASE_URL says otherwise;
created, migrated and dropped again unless --keep). Each file goes through the whole pipeline:
the task reads the blob from storage, scans it, writes the report, its findings and the file's
status. Measured in the same run:
- baseline: scan_stream alone over the same bytes in memory (no task, storage or database);
- eager: scan_artifact_task run in-process (CELERY_TASK_ALWAYS_EAGER, the embedded default);
- worker: the tasks published to Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/6) and
  run by `celery -A config worker -Q scanning --pool prefork -c N`, timed from the first publish
  to the last file's status, for each N given; with the median time of one task inside the
  worker, from its log.
The load average is printed with the machine: the figures are only comparable at equal load.
"""

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from machine import describe_machine  # bench/ is the script's folder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Persistent connections, as README recommends for workers: Celery closes a connection after
# every task otherwise, and opening one costs more than a small file's scan.
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/registry_h6_bench?conn_max_age=60"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-scan-worker-")
os.environ.update({"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
                   "CELERY_BROKER_URL": REDIS_URL, "MEDIA_ROOT": MEDIA_ROOT,
                   "AWS_STORAGE_BUCKET_NAME": "", "DEBUG": "false", "LOG_LEVEL": "WARNING",
                   "DJANGO_SETTINGS_MODULE": "config.settings"})


def _admin_connection():
    import psycopg

    server = urlsplit(DATABASE_URL)._replace(path="/postgres", query="").geturl()
    return psycopg.connect(server, autocommit=True)


def _database(action: str) -> None:
    from psycopg import sql

    name = sql.Identifier(urlsplit(DATABASE_URL).path.lstrip("/"))
    with _admin_connection() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        if action == "create":
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def _samples(count: int) -> list[tuple[str, bytes]]:
    import numpy as np

    from tests.scanning import corpus

    kinds = [
        ("README.md", lambda i: corpus.TEXT + f"File {i}.\n".encode()),
        ("weights.npy", lambda i: corpus.npy(np.arange(i % 50 + 1, dtype=np.float32))),
        ("model.safetensors", lambda i: corpus.safetensors_with_header(
            {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
             "__metadata__": {"i": str(i)}}, bytes(8))),
        ("checkpoint.pt", lambda i: corpus.benign_checkpoint(4 * (6 + i % 50))),
        ("evil.pkl", lambda i: corpus.call_pickle("os", "system", f"echo {i}")),
    ]
    return [(f"{i:04d}-{kinds[i % len(kinds)][0]}", kinds[i % len(kinds)][1](i))
            for i in range(count)]


def _files_create(samples: list[tuple[str, bytes]]) -> list[int]:
    """Stored files, pending, created without queueing their scans."""
    from django.core.files.base import ContentFile

    from accounts.models import User
    from accounts.services import ensure_default_tenant
    from registry.models import ArtifactFile, ModelVersion, RegisteredModel
    from registry.storage import blobs

    tenant = ensure_default_tenant()
    owner = User.objects.create_user("bench-owner")
    model = RegisteredModel.objects.create(tenant=tenant, owner=owner, name="bench")
    version = ModelVersion.objects.create(model=model, version="1.0.0", version_major=1,
                                          version_minor=0, version_patch=0,
                                          version_prerelease="~", created_by=owner)
    ids = []
    for path, content in samples:
        blob = blobs.blob_store_stream(tenant=tenant, stream=ContentFile(content))
        ids.append(ArtifactFile.objects.create(
            tenant=tenant, model_version=version, path=path, blob=blob, size=blob.size,
            sha256=blob.sha256, uploaded_by=owner).pk)
    return ids


def _reset(ids: list[int]) -> None:
    from registry.models import ArtifactFile, ScanStatus
    from scanning.models import ScanReport

    ScanReport.objects.filter(file_id__in=ids).delete()
    ArtifactFile.objects.filter(pk__in=ids).update(scan_status=ScanStatus.PENDING,
                                                   scanner_version="")


def _outcomes(ids: list[int]) -> dict[str, int]:
    from django.db.models import Count

    from registry.models import ArtifactFile

    rows = (ArtifactFile.objects.filter(pk__in=ids).values("scan_status")
            .annotate(n=Count("pk")).order_by("scan_status"))
    return {row["scan_status"]: row["n"] for row in rows}


def measure_baseline(samples: list[tuple[str, bytes]]) -> float:
    from scanning.scanners import scan_stream

    started = time.perf_counter()
    for path, content in samples:
        scan_stream(io.BytesIO(content), name=path)
    return time.perf_counter() - started


def measure_eager(ids: list[int]) -> float:
    from config.celery import app
    from scanning.tasks import scan_artifact_task

    app.conf.task_always_eager = True
    started = time.perf_counter()
    for file_id in ids:
        scan_artifact_task.delay(file_id)
    elapsed = time.perf_counter() - started
    app.conf.task_always_eager = False
    return elapsed


def measure_worker(ids: list[int], concurrency: int, log: Path) -> tuple[float, float, float]:
    """Seconds to publish, seconds until every file has its status, and the median run time
    of one task inside the worker (from its log)."""
    from config.celery import app
    from registry.models import ArtifactFile, ScanStatus
    from scanning.tasks import scan_artifact_task

    with app.connection_for_write() as broker:
        broker.default_channel.queue_purge("scanning")
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "scanning",
               "--pool", "prefork", "-c", str(concurrency), "-n", f"bench-{concurrency}@%h",
               "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
    with log.open("wb") as output:
        worker = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        while " ready." not in log.read_text(errors="replace"):
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        pending = ArtifactFile.objects.filter(pk__in=ids, scan_status=ScanStatus.PENDING)
        started = time.perf_counter()
        for file_id in ids:
            scan_artifact_task.delay(file_id)
        published = time.perf_counter() - started
        while pending.exists():
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    runs = sorted(float(run) for run in re.findall(r"succeeded in ([0-9.]+)s",
                                                    log.read_text()))
    return published, elapsed, runs[len(runs) // 2]


def _machine() -> str:
    import redis
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    redis_version = redis.Redis.from_url(REDIS_URL).info()["redis_version"]
    return (f"{describe_machine()}; PostgreSQL {server}; Redis {redis_version}; filesystem "
            f"storage on {MEDIA_ROOT}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, os.cpu_count()])
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    options = parser.parse_args()

    _database("create")
    import django

    django.setup()
    from django.core.management import call_command

    from scanning.scanners import SCANNER_VERSION

    call_command("migrate", verbosity=0)
    try:
        samples = _samples(options.files)
        ids = _files_create(samples)
        sizes = sorted(len(content) for _, content in samples)
        print(f"machine: {_machine()}")
        print(f"workload: {len(ids)} files, {sizes[0]}-{sizes[-1]} B (median "
              f"{sizes[len(sizes) // 2]} B, {sum(sizes) / 1024:.0f} KiB in all): text, .npy, "
              f"safetensors, PyTorch checkpoint, malicious pickle; scanner {SCANNER_VERSION}")

        baseline = measure_baseline(samples)
        rate = len(ids) / baseline
        print(f"baseline  scan_stream in memory:        {baseline:7.2f} s  {rate:8.0f} files/s")

        eager = measure_eager(ids)
        print(f"eager     task in-process, full path:    {eager:7.2f} s  "
              f"{len(ids) / eager:8.0f} files/s  ({eager / baseline:.1f}x the baseline)  "
              f"{_outcomes(ids)}")

        for concurrency in options.concurrency:
            _reset(ids)
            published, elapsed, task = measure_worker(
                ids, concurrency, Path(MEDIA_ROOT) / f"worker-{concurrency}.log"
            )
            print(f"worker    Redis + prefork -c {concurrency}:        {elapsed:7.2f} s  "
                  f"{len(ids) / elapsed:8.0f} files/s  ({elapsed / baseline:.1f}x the baseline;"
                  f" publishing took {published:.2f} s, a task {task * 1000:.0f} ms in the "
                  f"worker)  {_outcomes(ids)}")
    finally:
        from django.db import connections

        connections.close_all()
        if not options.keep:
            _database("drop")
        shutil.rmtree(MEDIA_ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()
