"""Prometheus metrics: what the registry does (counters and histograms, written where it
happens) and what it holds (gauges, read from the database at scrape time).

With PROMETHEUS_MULTIPROC_DIR set (gunicorn, Celery), every process writes its values to
files there and /metrics adds them up, so each gunicorn worker and each Celery worker counts.
"""

import hmac
import os
import re
import time
from collections.abc import Iterator

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

GRAPHQL_REQUESTS = Counter(
    "registry_graphql_requests", "GraphQL operations by operation name and outcome.",
    ["operation", "outcome"])
GRAPHQL_LATENCY = Histogram(
    "registry_graphql_request_duration_seconds", "Time to execute a GraphQL operation.",
    ["operation"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
ERRORS = Counter("registry_errors", "Error codes answered to callers.", ["code"])
RESPONSE_CACHE_HITS = Counter("registry_graphql_response_cache_hits",
                              "GraphQL reads answered from the response cache.")
PUSHES = Counter("registry_pushes", "Files stored (uploadFile or completeUpload).", ["tenant"])
PUSHED_BYTES = Counter("registry_pushed_bytes", "Bytes of the files stored.", ["tenant"])
PULLS = Counter("registry_pulls", "File downloads (a resumed download counts once).", ["tenant"])
PULLED_BYTES = Counter("registry_pulled_bytes", "Bytes of the files downloaded.", ["tenant"])
UPLOADS_ABORTED = Counter(
    "registry_upload_sessions_aborted", "Resumable uploads aborted, by the client or expired.",
    ["reason"])
UPLOAD_TEMP_FILES_SWEPT = Counter(
    "registry_upload_temp_files_swept", "Orphaned spooled upload bodies deleted by the sweep.")
UPLOAD_TEMP_BYTES_SWEPT = Counter(
    "registry_upload_temp_bytes_swept", "Bytes of the orphaned upload bodies deleted.")
SCANS = Counter("registry_scans", "Finished scans by verdict.", ["verdict"])
SCAN_DURATION = Histogram(
    "registry_scan_duration_seconds", "Time a scanner took over a file.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900))
WEBHOOK_DELIVERIES = Counter(
    "registry_webhook_deliveries",
    "Webhook deliveries by event and outcome: succeeded or failed (final), retried (an "
    "attempt that will be repeated).", ["event", "outcome"])

CLEANUP_ITEMS = Counter(
    "registry_cleanup_items",
    "Cleanup proposal items by outcome: proposed, trashed, skipped (protected since), "
    "excluded, restored, purged.", ["outcome"])
CLEANUP_RECLAIMED_BYTES = Counter(
    "registry_cleanup_reclaimed_bytes", "Bytes of storage the cleanup purge freed.", ["tenant"])


def record_transfer(count: Counter, size_counter: Counter, *, tenant: str, size: int) -> None:
    count.labels(tenant).inc()
    size_counter.labels(tenant).inc(size)


def record_scan(verdict: str, duration: float | None) -> None:
    SCANS.labels(verdict).inc()
    if duration is not None:
        SCAN_DURATION.observe(duration)


# Operation names are the client's to choose: past this many distinct names per process, the
# rest are counted as `other`, so a client cannot grow the series without bound.
MAX_OPERATION_NAMES = 200
OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_operation_names: set[str] = set()


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if not OPERATION_NAME.fullmatch(name):
        return "other"
    if name not in _operation_names:
        if len(_operation_names) >= MAX_OPERATION_NAMES:
            return "other"
        _operation_names.add(name)
    return name


class HoldingsCollector:
    """Gauges of what the registry holds, counted by the database when scraped."""

    def collect(self):
        from django.db.models import Count, Sum

        from registry.models import ArtifactFile, ScanStatus, UploadSession, UploadState

        stored_bytes = GaugeMetricFamily(
            "registry_storage_bytes", "Bytes of the files of each tenant.", labels=["tenant"])
        stored_files = GaugeMetricFamily(
            "registry_storage_files", "Files of each tenant.", labels=["tenant"])
        for row in (ArtifactFile.objects.values("tenant__slug")
                    .annotate(files=Count("pk"), size=Sum("size")).order_by("tenant__slug")):
            stored_bytes.add_metric([row["tenant__slug"]], row["size"] or 0)
            stored_files.add_metric([row["tenant__slug"]], row["files"])
        yield stored_bytes
        yield stored_files
        yield GaugeMetricFamily(
            "registry_upload_sessions_open", "Resumable uploads open or completing.",
            value=UploadSession.objects.filter(
                state__in=[UploadState.OPEN, UploadState.COMPLETING]).count())
        yield GaugeMetricFamily(
            "registry_scan_queue_files", "Files waiting for a scan (pending).",
            value=ArtifactFile.objects.filter(scan_status=ScanStatus.PENDING).count())


class ThisProcess:
    """This process's own metrics, when there is one process (`make run`, tests)."""

    def collect(self):
        yield from REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(ThisProcess())
    registry.register(HoldingsCollector())
    return registry


def operation_info_codes(data) -> Iterator[str]:
    """The codes of the OperationInfo messages in a mutation's data, as answered."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "messages" and isinstance(value, list):
                yield from (message["code"] for message in value
                            if isinstance(message, dict) and message.get("code"))
            else:
                yield from operation_info_codes(value)
    elif isinstance(data, list):
        for item in data:
            yield from operation_info_codes(item)


class OperationMetrics(SchemaExtension):
    """Counts each operation by name and outcome (ok, rejected: an OperationInfo answer,
    error: GraphQL errors), and times it."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        name = operation_label(context.operation_name)
        result = context.result
        if result is None or result.errors:
            outcome = "error"
        else:
            codes = (list(operation_info_codes(result.data))
                     if context.operation_type == OperationType.MUTATION else [])
            for code in codes:
                ERRORS.labels(code).inc()
            outcome = "rejected" if codes else "ok"
        GRAPHQL_REQUESTS.labels(name, outcome).inc()
        GRAPHQL_LATENCY.labels(name).observe(time.perf_counter() - started)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: with METRICS_TOKEN set, for `Authorization: Bearer <METRICS_TOKEN>`
    only; without it, only outside production. Anything else answers 404."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
            raise Http404
    elif settings.IS_PRODUCTION:
        raise Http404
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
