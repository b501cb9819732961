"""Deploying and undeploying an inference service are webhook events, with exact payloads
(recorded in the test's transaction, which never commits: nothing is sent)."""

import pytest

from deployments import services as deployment_services
from tests.deployments.conftest import gid
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def events_and_states() -> list[tuple[str, str, str]]:
    return [(delivery.event, delivery.payload["data"]["inferenceService"]["version"]["model"]
             ["name"], delivery.payload["data"]["inferenceService"]["updatedBy"])
            for delivery in WebhookDelivery.objects.order_by("pk")]


def test_deploy_repoint_undeploy_and_redeploy(world):
    webhook_services.webhook_create(
        actor=world.actor("admin"), url="https://hooks.example.com/registry",
        events=["inference_service.deployed", "inference_service.undeployed"])
    owner = world.actor("owner")

    service = deployment_services.inference_service_create(
        actor=owner, environment_id=world.environment.pk,
        model_version_id=world.public_version.pk, name="edge",
        endpoint_url="https://serving.example/")
    deployment_services.inference_service_update(actor=owner, service_id=service.pk,
                                                 runtime="triton")  # not an event
    deployment_services.inference_service_update(actor=owner, service_id=service.pk,
                                                 model_version_id=world.private_version.pk)
    deployment_services.inference_service_update(actor=owner, service_id=service.pk,
                                                 state="undeployed")
    deployment_services.inference_service_update(actor=owner, service_id=service.pk,
                                                 model_version_id=world.public_version.pk)
    deployment_services.inference_service_update(actor=owner, service_id=service.pk,
                                                 state="deployed")

    assert events_and_states() == [
        ("inference_service.deployed", "detector", "owner"),
        ("inference_service.deployed", "secret-detector", "owner"),
        ("inference_service.undeployed", "secret-detector", "owner"),
        ("inference_service.deployed", "detector", "owner"),
    ]
    assert WebhookDelivery.objects.order_by("pk").first().payload["data"] == {
        "inferenceService": {
            "id": gid(service), "name": "edge", "runtime": "", "endpointUrl":
                "https://serving.example/",
            "environment": {"id": gid(world.environment), "name": "production"},
            "version": {"id": gid(world.public_version), "version": "1.0.0",
                        "model": {"id": gid(world.public_model), "name": "detector"}},
            "updatedBy": "owner",
        }}
