"""Scans in real Celery worker processes, through Redis, against the PostgreSQL test database.

Run with REGISTRY_TEST_SERVICES=1, DATABASE_URL (PostgreSQL) and REDIS_URL set, as .ci/run's
second pass does; a missing service fails these tests.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from strawberry.relay import from_base64

from config.celery import app
from registry.models import ArtifactFile, ScanStatus
from scanning import services
from scanning.models import ScanReport, Verdict
from tests.conftest import graphql_client_for
from tests.scanning import corpus
from tests.scanning.conftest import SERVED, UPLOAD, download_status, global_id

pytestmark = [pytest.mark.services, pytest.mark.real_worker,
              pytest.mark.django_db(transaction=True)]

PROJECT = Path(__file__).resolve().parents[2]
TIMEOUT = 60


def _database_url() -> str:
    if connection.vendor != "postgresql":
        pytest.fail("The real-worker tests need DATABASE_URL to point at PostgreSQL: the "
                    "worker must see the rows this test commits.")
    db = connection.settings_dict  # NAME is the test database's
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return (f"postgres://{quote(db['USER'], safe='')}{password}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}")


def _broker_url() -> str:
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        pytest.fail("The real-worker tests need REDIS_URL (e.g. redis://127.0.0.1:6379/6).")
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is not reachable at {url}: {error}")
    return url


def _storage_env() -> dict[str, str]:
    """The test's own storage (a folder or an S3 bucket), for the worker's settings."""
    default = settings.STORAGES["default"]
    options = default["OPTIONS"]
    if default["BACKEND"] == "storages.backends.s3.S3Storage":
        return {"AWS_STORAGE_BUCKET_NAME": options["bucket_name"],
                "AWS_S3_ENDPOINT_URL": options["endpoint_url"] or "",
                "AWS_S3_REGION_NAME": options["region_name"],
                "AWS_ACCESS_KEY_ID": options["access_key"] or "",
                "AWS_SECRET_ACCESS_KEY": options["secret_key"] or ""}
    return {"AWS_STORAGE_BUCKET_NAME": "", "MEDIA_ROOT": str(options["location"])}


class Worker:
    """A `celery worker -Q scanning -c 1 --pool prefork` process group."""

    def __init__(self, log: Path, env: dict[str, str], module: str = "celery") -> None:
        self.name = f"scan-test-{uuid.uuid4().hex[:8]}@%h"
        command = [sys.executable, "-m", module]
        if module == "celery":
            command += ["-A", "config"]
        command += ["worker", "-Q", "scanning", "-c", "1", "--pool", "prefork", "-n", self.name,
                    "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=output,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_for(lambda: " ready." in self.log.read_text(errors="replace"), "ready")

    def _wait_for(self, condition, what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(f"The worker exited ({self.process.returncode}):\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"The worker was not {what} within {TIMEOUT} s:\n{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]

    def kill(self) -> None:
        """SIGKILL to the main process and its pool: no chance to acknowledge or clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=TIMEOUT)


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    """Starts workers against this test's database, broker and storage; kills them after."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": _database_url(), "REDIS_URL": _broker_url(),
           "CELERY_BROKER_URL": _broker_url(), **_storage_env()}
    with app.connection_for_write() as broker:
        broker.default_channel.queue_purge("scanning")  # leftovers of an interrupted run
    workers = []

    def start(module: str = "celery", **extra_env: str) -> Worker:
        worker = Worker(tmp_path / f"worker-{len(workers)}.log", {**env, **extra_env}, module)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.kill()


def _upload(user, version, content: bytes, path: str, **headers: str) -> ArtifactFile:
    result = graphql_client_for(user).upload(
        UPLOAD, {"versionId": global_id(version), "path": path, "file": None},
        {"variables.file": (path, content)}, **headers,
    )
    return ArtifactFile.objects.get(pk=from_base64(result.data["uploadFile"]["id"])[1])


def _wait_until(condition, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {TIMEOUT} s:\n{worker.output()}")
        time.sleep(0.2)


def _parent_pid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("PPid:")).split()[1])


def test_a_real_worker_scans_the_file_in_its_own_process(start_worker, maintainer, version):
    worker = start_worker()

    artifact = _upload(maintainer, version, corpus.benign_checkpoint(), "checkpoint.pt")
    _wait_until(lambda: ArtifactFile.objects.get(pk=artifact.pk).scan_status
                != ScanStatus.PENDING, "The scan", worker)

    artifact.refresh_from_db()
    report = artifact.scan_reports.get()
    host, pid = report.worker.rsplit(":", 1)
    assert (artifact.scan_status, report.verdict) == (ScanStatus.CLEAN, Verdict.CLEAN)
    assert int(pid) != os.getpid()
    assert _parent_pid(int(pid)) == worker.process.pid  # a prefork child of that worker
    assert download_status(maintainer, artifact) == SERVED


def test_a_worker_killed_mid_scan_leaves_the_file_quarantined_until_a_restart(
    start_worker, maintainer, version
):
    slow = start_worker("tests.scanning.slow_worker", SCAN_TEST_DELAY_SECONDS="600")

    artifact = _upload(maintainer, version, corpus.benign_checkpoint(), "checkpoint.pt")
    _wait_until(lambda: ScanReport.objects.filter(file=artifact).exists(), "The scan's start",
                slow)
    slow.kill()

    artifact.refresh_from_db()
    interrupted = artifact.scan_reports.get()
    assert artifact.scan_status == ScanStatus.PENDING
    assert (interrupted.verdict, interrupted.error, interrupted.finished_at) == (
        Verdict.ERROR, services.UNFINISHED, None
    )
    assert download_status(maintainer, artifact) == 404

    # Redis hands the unacknowledged message to the next worker once its visibility
    # timeout has passed (an hour by default; a second here).
    restarted = start_worker(CELERY_VISIBILITY_TIMEOUT_SECONDS="1")
    _wait_until(lambda: ArtifactFile.objects.get(pk=artifact.pk).scan_status
                != ScanStatus.PENDING, "The scan after the restart", restarted)

    artifact.refresh_from_db()
    assert artifact.scan_status == ScanStatus.CLEAN
    assert [(report.verdict, report.finished_at is None)
            for report in artifact.scan_reports.all()] == [
        (Verdict.CLEAN, False), (Verdict.ERROR, True)
    ]
    assert download_status(maintainer, artifact) == SERVED


def test_the_scan_task_logs_with_the_request_id_of_the_upload_and_counts_in_metrics(
    start_worker, maintainer, version, default_tenant, tmp_path
):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    worker = start_worker(LOG_FORMAT="json", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))

    artifact = _upload(maintainer, version, corpus.benign_checkpoint(), "checkpoint.pt",
                       **{"X-Request-ID": "upload-req-7"})
    _wait_until(lambda: ArtifactFile.objects.get(pk=artifact.pk).scan_status
                != ScanStatus.PENDING, "The scan", worker)
    worker.kill()

    lines = [json.loads(line) for line in worker.log.read_text().splitlines()
             if line.startswith("{")]
    task_lines = [line for line in lines if line.get("request_id") == "upload-req-7"]
    assert {line["event"] for line in task_lines} >= {"task_started", "task_succeeded"}
    assert {(line["tenant"], line["user_id"]) for line in task_lines} == {
        (default_tenant.slug, maintainer.pk)}
    # The worker's prefork child wrote its counters where /metrics (multiprocess mode) reads.
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))
    assert registry.get_sample_value("registry_scans_total", {"verdict": "clean"}) == 1
