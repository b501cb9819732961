"""Each service action records one delivery per subscribed webhook, with an exact payload,
inside its transaction, and queues it once that commits."""

import pytest
import structlog
from django.core.exceptions import ValidationError
from django.utils import timezone
from strawberry.relay import to_base64

from accounts.models import Role
from accounts.selectors import actor_for
from registry import services as registry
from registry.models import Dataset, DatasetVersion, ModelVersion, RegisteredModel, ScanStatus
from scanning import services as scanning
from scanning.models import ScanReport, Verdict
from tests.factories import TenantFactory, UserFactory, artifact_file
from webhooks import services
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db
URL = "https://hooks.example.com/registry"


def gid(obj) -> str:
    return to_base64(type(obj).__name__, obj.pk)


def data_of(event: str) -> list[dict]:
    return [delivery.payload["data"] for delivery
            in WebhookDelivery.objects.filter(event=event).order_by("pk")]


@pytest.fixture
def hook(webhook_to):
    return webhook_to(URL)


@pytest.fixture
def model(admin_actor, hook):
    return registry.catalog_entry_create(entry_class=RegisteredModel, actor=admin_actor,
                                         name="detector", project_name="cars",
                                         visibility="public")


@pytest.fixture
def model_version(admin_actor, model):
    return registry.version_create(version_class=ModelVersion, actor=admin_actor,
                                   parent_id=model.pk, version="1.2.0", precision="FP16")


MODEL_REF = {"name": "detector"}


def test_creating_a_model_and_a_dataset(admin_actor, model):
    dataset = registry.catalog_entry_create(entry_class=Dataset, actor=admin_actor,
                                            name="images")

    assert data_of("model.created") == [{"model": {
        "id": gid(model), "name": "detector", "projectName": "cars", "status": "training",
        "visibility": "public", "owner": "hook-admin"}}]
    assert data_of("dataset.created") == [{"dataset": {
        "id": gid(dataset), "name": "images", "projectName": "", "status": "training",
        "visibility": "private", "owner": "hook-admin"}}]


def test_the_envelope(model, hook):
    delivery = WebhookDelivery.objects.get(event="model.created")

    assert set(delivery.payload) == {"id", "event", "tenant", "createdAt", "data"}
    assert (delivery.payload["id"], delivery.payload["event"], delivery.payload["tenant"]) == (
        str(delivery.uid), "model.created", "default")
    assert (delivery.webhook, delivery.status, delivery.attempts) == (hook, "pending", 0)


def test_deleting_a_model_and_a_dataset(admin_actor, model):
    dataset = registry.catalog_entry_create(entry_class=Dataset, actor=admin_actor,
                                            name="images")
    model_id, dataset_id = gid(model), gid(dataset)

    registry.catalog_entry_delete(entry_class=RegisteredModel, actor=admin_actor,
                                  entry_id=model.pk)
    registry.catalog_entry_delete(entry_class=Dataset, actor=admin_actor, entry_id=dataset.pk)

    assert data_of("model.deleted") == [{"model": {
        "id": model_id, "name": "detector", "projectName": "cars", "status": "training",
        "visibility": "public", "owner": "hook-admin"}}]
    assert data_of("dataset.deleted") == [{"dataset": {
        "id": dataset_id, "name": "images", "projectName": "", "status": "training",
        "visibility": "private", "owner": "hook-admin"}}]


def test_creating_versions(admin_actor, model, model_version):
    dataset = registry.catalog_entry_create(entry_class=Dataset, actor=admin_actor,
                                            name="images")
    dataset_version = registry.version_create(version_class=DatasetVersion, actor=admin_actor,
                                              parent_id=dataset.pk, version="3.0.0")

    assert data_of("model_version.created") == [{"version": {
        "id": gid(model_version), "version": "1.2.0", "precision": "FP16",
        "createdBy": "hook-admin", "model": {"id": gid(model), **MODEL_REF}}}]
    assert data_of("dataset_version.created") == [{"version": {
        "id": gid(dataset_version), "version": "3.0.0", "createdBy": "hook-admin",
        "dataset": {"id": gid(dataset), "name": "images"}}}]


def test_deleting_a_version_describes_it_as_it_was(admin_actor, model, model_version):
    expected = {"version": {"id": gid(model_version), "version": "1.2.0",
                            "model": {"id": gid(model), **MODEL_REF}}}

    registry.version_delete(actor=admin_actor, version=model_version)

    assert data_of("model_version.deleted") == [expected]
    # In the trash: to subscribers the version is gone.
    assert ModelVersion.objects.get(pk=model_version.pk).trashed_at is not None


def test_moving_and_removing_an_alias(admin_actor, model, model_version):
    newer = registry.version_create(version_class=ModelVersion, actor=admin_actor,
                                    parent_id=model.pk, version="1.3.0")

    registry.model_alias_set(actor=admin_actor, model_id=model.pk, alias="champion",
                             version_id=model_version.pk)
    registry.model_alias_set(actor=admin_actor, model_id=model.pk, alias="champion",
                             version_id=newer.pk)
    registry.model_alias_remove(actor=admin_actor, model_id=model.pk, alias="champion")

    model_ref = {"id": gid(model), **MODEL_REF}
    assert data_of("model_alias.set") == [
        {"alias": "champion", "version": {"id": gid(model_version), "version": "1.2.0",
                                          "model": model_ref}},
        {"alias": "champion", "version": {"id": gid(newer), "version": "1.3.0",
                                          "model": model_ref}},
    ]
    assert data_of("model_alias.removed") == [{"alias": "champion", "model": model_ref}]


def file_ref(artifact, model, model_version, status: str) -> dict:
    return {"id": gid(artifact), "path": "model.onnx", "size": artifact.size,
            "sha256": artifact.sha256, "scanStatus": status,
            "version": {"id": gid(model_version), "version": "1.2.0",
                        "model": {"id": gid(model), **MODEL_REF}}}


def test_a_finished_scan_with_its_verdict(model, model_version):
    artifact = artifact_file(model_version, content=b"\x80\x04K\x01.",  # a pickle of 1
                             scan_status=ScanStatus.PENDING)

    report = scanning.scan_file(file_id=artifact.pk)

    artifact.refresh_from_db()
    assert data_of("file.scanned") == [{
        "file": file_ref(artifact, model, model_version, artifact.scan_status),
        "scan": {"id": gid(report), "verdict": report.verdict, "scanner": report.scanner,
                 "scannerVersion": report.scanner_version,
                 "findings": report.findings.count(), "error": ""},
    }]
    assert (report.verdict, artifact.scan_status) == (Verdict.CLEAN, ScanStatus.CLEAN)


def test_releasing_a_flagged_file(admin_actor, model, model_version):
    artifact = artifact_file(model_version, scan_status=ScanStatus.FLAGGED)
    ScanReport.objects.create(file=artifact, trigger="upload", scanner_version="1",
                              verdict=Verdict.FLAGGED, started_at=timezone.now(),
                              finished_at=timezone.now())

    scanning.file_release(actor=admin_actor, file_id=artifact.pk, reason="reviewed: a test")

    assert data_of("file.released") == [{
        "file": file_ref(artifact, model, model_version, "released"),
        "release": {"reason": "reviewed: a test", "releasedBy": "hook-admin"},
    }]


def test_only_active_webhooks_subscribed_to_the_event_of_the_tenant_receive_it(
        admin_actor, webhook_to):
    subscribed = webhook_to(URL, events=["model.created"])
    webhook_to(URL, events=["dataset.created"])
    webhook_to(URL, events=["model.created"], active=False)
    elsewhere = TenantFactory(slug="elsewhere")
    other_admin = UserFactory(username="other-admin")
    other_admin.memberships.create(tenant=elsewhere, role=Role.ADMIN)

    services.webhook_create(actor=actor_for(user=other_admin, tenant=elsewhere), url=URL,
                            events=["model.created"])

    registry.catalog_entry_create(entry_class=RegisteredModel, actor=admin_actor, name="m")

    assert list(WebhookDelivery.objects.values_list("webhook", "event")) == [
        (subscribed.pk, "model.created")]


def test_deliveries_are_queued_once_the_change_commits(admin_actor, hook,
                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        registry.catalog_entry_create(entry_class=RegisteredModel, actor=admin_actor, name="m")

    assert WebhookDelivery.objects.count() == 1
    assert len(callbacks) == 1


def test_a_refused_change_records_no_delivery(admin_actor, model):
    with pytest.raises(ValidationError) as refused:
        registry.catalog_entry_create(entry_class=RegisteredModel, actor=admin_actor,
                                      name="detector")

    assert refused.value.error_dict["name"][0].code == "duplicate_name"

    assert WebhookDelivery.objects.filter(event="model.created").count() == 1


def test_the_request_id_travels_with_the_delivery(admin_actor, hook):
    with structlog.contextvars.bound_contextvars(request_id="req-42"):
        registry.catalog_entry_create(entry_class=RegisteredModel, actor=admin_actor, name="m")

    assert WebhookDelivery.objects.get().request_id == "req-42"


def test_no_webhook_no_delivery(admin_actor):
    registry.catalog_entry_create(entry_class=RegisteredModel, actor=admin_actor, name="m")

    assert WebhookDelivery.objects.count() == 0
