"""Events for webhooks: each service that makes one happen calls one function here, inside
its transaction. The deliveries are recorded in that transaction (so they exist exactly when
the change does) and queued once it commits.

Payloads name objects by their GraphQL global ids, so a receiver can query them back.
"""

from collections.abc import Callable
from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone
from strawberry.relay import to_base64

from deployments.models import DeploymentState, InferenceService
from registry.models import (
    ArtifactFile,
    CatalogEntry,
    Dataset,
    DatasetVersion,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    Version,
)
from webhooks.models import PING_EVENT, Webhook, WebhookDelivery, WebhookEvent


def global_id(obj) -> str:
    # The models carry the names of their GraphQL types (RegisteredModel, ModelVersion, ...).
    return to_base64(type(obj).__name__, obj.pk)


def deliveries_queue(delivery_ids: list[int]) -> None:
    """Queue the deliveries once the current transaction commits; robust, so a broker that
    is down fails no change (the deliveries stay pending, on record)."""
    from webhooks.tasks import deliver_webhook_task  # the tasks module imports services

    def send() -> None:
        for delivery_id in delivery_ids:
            deliver_webhook_task.delay(delivery_id)

    if delivery_ids:
        transaction.on_commit(send, robust=True)


def delivery_record(webhook: Webhook, event: str, data: dict[str, Any]) -> WebhookDelivery:
    delivery = WebhookDelivery(webhook=webhook, event=event, request_id=_request_id())
    delivery.payload = {"id": str(delivery.uid), "event": event, "tenant": webhook.tenant.slug,
                        "createdAt": timezone.now().isoformat(), "data": data}
    return delivery


def _request_id() -> str:
    # Bound by django-structlog for the request, and carried into the tasks it queued.
    return str(structlog.contextvars.get_contextvars().get("request_id") or "")[:128]


def emit(*, tenant_id: int, event: WebhookEvent, data: Callable[[], dict[str, Any]]
         ) -> list[WebhookDelivery]:
    """One delivery per active webhook of the tenant subscribed to `event`; `data` builds
    the payload's `data`, and only when some webhook wants it."""
    webhooks = [webhook for webhook in Webhook.objects.filter(tenant_id=tenant_id, active=True)
                .select_related("tenant") if event in webhook.events]
    if not webhooks:
        return []
    built = data()
    deliveries = WebhookDelivery.objects.bulk_create(
        [delivery_record(webhook, event, built) for webhook in webhooks])
    deliveries_queue([delivery.pk for delivery in deliveries])
    return deliveries


def ping(webhook: Webhook) -> WebhookDelivery:
    delivery = delivery_record(webhook, PING_EVENT, {"webhook": global_id(webhook)})
    delivery.save()
    deliveries_queue([delivery.pk])
    return delivery


# --- The events, and their payloads ---------------------------------------------------------

ENTRY_EVENTS = {
    RegisteredModel: ("model", WebhookEvent.MODEL_CREATED, WebhookEvent.MODEL_DELETED),
    Dataset: ("dataset", WebhookEvent.DATASET_CREATED, WebhookEvent.DATASET_DELETED),
}
VERSION_EVENTS = {
    ModelVersion: ("model", WebhookEvent.MODEL_VERSION_CREATED, WebhookEvent.MODEL_VERSION_DELETED),
    DatasetVersion: ("dataset", WebhookEvent.DATASET_VERSION_CREATED,
                     WebhookEvent.DATASET_VERSION_DELETED),
}


def _user(user) -> str | None:
    return user.username if user is not None else None


def _entry(entry: CatalogEntry) -> dict[str, Any]:
    return {"id": global_id(entry), "name": entry.name, "projectName": entry.project_name,
            "status": entry.status, "visibility": entry.visibility, "owner": _user(entry.owner)}


def _version(version: Version) -> dict[str, Any]:
    parent_key, _, _ = VERSION_EVENTS[type(version)]
    parent = getattr(version, parent_key)
    return {"id": global_id(version), "version": version.version,
            parent_key: {"id": global_id(parent), "name": parent.name}}


def _file(artifact: ArtifactFile) -> dict[str, Any]:
    return {"id": global_id(artifact), "path": artifact.path, "size": artifact.size,
            "sha256": artifact.sha256, "scanStatus": artifact.scan_status,
            "version": _version(artifact.version)}


def catalog_entry_created(entry: CatalogEntry) -> None:
    key, created, _ = ENTRY_EVENTS[type(entry)]
    emit(tenant_id=entry.tenant_id, event=created, data=lambda: {key: _entry(entry)})


def catalog_entry_deleted(entry: CatalogEntry) -> None:
    """Called before the deletion, while the entry can still be described."""
    key, _, deleted = ENTRY_EVENTS[type(entry)]
    emit(tenant_id=entry.tenant_id, event=deleted, data=lambda: {key: _entry(entry)})


def version_deleted(version: Version) -> None:
    """Called before the deletion, while the version can still be described."""
    key, _, deleted = VERSION_EVENTS[type(version)]
    emit(tenant_id=getattr(version, key).tenant_id, event=deleted,
         data=lambda: {"version": _version(version)})


def version_created(version: Version) -> None:
    key, created, _ = VERSION_EVENTS[type(version)]
    emit(tenant_id=getattr(version, key).tenant_id, event=created,
         data=lambda: {"version": {
             **_version(version), "createdBy": _user(version.created_by),
             **({"precision": version.precision} if isinstance(version, ModelVersion) else {}),
         }})


def file_scanned(artifact: ArtifactFile, report) -> None:
    """`report`: the finished ScanReport; the file's status is the one it resulted in."""
    emit(tenant_id=artifact.tenant_id, event=WebhookEvent.FILE_SCANNED, data=lambda: {
        "file": _file(artifact),
        "scan": {"id": global_id(report), "verdict": report.verdict,
                 "scanner": report.scanner, "scannerVersion": report.scanner_version,
                 "findings": report.findings.count(), "error": report.error},
    })


def file_released(artifact: ArtifactFile, release) -> None:
    emit(tenant_id=artifact.tenant_id, event=WebhookEvent.FILE_RELEASED, data=lambda: {
        "file": _file(artifact),
        "release": {"reason": release.reason, "releasedBy": _user(release.released_by)},
    })


def model_alias_set(model_alias: ModelAlias) -> None:
    emit(tenant_id=model_alias.model.tenant_id, event=WebhookEvent.MODEL_ALIAS_SET,
         data=lambda: {"alias": model_alias.name, "version": _version(model_alias.version)})


def model_alias_removed(model: RegisteredModel, alias: str) -> None:
    emit(tenant_id=model.tenant_id, event=WebhookEvent.MODEL_ALIAS_REMOVED,
         data=lambda: {"alias": alias, "model": {"id": global_id(model), "name": model.name}})


def inference_service_state_changed(service: InferenceService) -> None:
    """Called after a service is deployed (or a deployed one re-pointed) or undeployed."""
    event = (WebhookEvent.INFERENCE_SERVICE_DEPLOYED
             if service.state == DeploymentState.DEPLOYED
             else WebhookEvent.INFERENCE_SERVICE_UNDEPLOYED)
    environment = service.environment
    emit(tenant_id=environment.tenant_id, event=event, data=lambda: {"inferenceService": {
        "id": global_id(service), "name": service.name, "runtime": service.runtime,
        "endpointUrl": service.endpoint_url,
        "environment": {"id": global_id(environment), "name": environment.name},
        "version": _version(service.model_version), "updatedBy": _user(service.updated_by),
    }})
