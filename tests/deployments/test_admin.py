"""Serving records in the admin console: written through the services (their checks as
form errors), and deletion of what a live deployment protects refused."""

import pytest
from django.test import Client
from django.urls import reverse

from deployments import services as deployment_services
from deployments.models import InferenceService
from registry.models import ModelVersion, RegisteredModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(world) -> Client:
    world.admin.is_staff = True
    world.admin.save()
    client = Client()
    client.force_login(world.admin)
    return client


def service_form(world, **overrides) -> dict:
    return {"environment": world.environment.pk, "model_version": world.public_version.pk,
            "name": "edge", "state": "deployed", "runtime": "triton",
            "endpoint_url": "https://serving.example/", "labels": '{"team": "vision"}',
            **overrides}


def test_adding_a_service_goes_through_the_service(admin_client, world):
    response = admin_client.post(reverse("admin:deployments_inferenceservice_add"),
                                 service_form(world))

    service = InferenceService.objects.get()
    assert response.status_code == 302
    assert (service.name, service.state, service.labels, service.created_by.username,
            service.updated_by.username) == ("edge", "deployed", {"team": "vision"}, "admin",
                                            "admin")


def test_the_form_refuses_what_the_service_refuses(admin_client, world):
    response = admin_client.post(reverse("admin:deployments_inferenceservice_add"),
                                 service_form(world, endpoint_url="ftp://serving.example/",
                                              labels='{"team": 1}'))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "endpoint_url": ["Use an absolute http(s) URL of at most 2000 characters."],
        "labels": ["Labels are a JSON object of at most 64 string keys (1-63 characters) to "
                   "string values (at most 255 characters)."]}
    assert InferenceService.objects.count() == 0


def test_a_deployed_version_its_model_and_a_non_empty_environment_are_protected(admin_client,
                                                                                world):
    deployment_services.inference_service_create(
        actor=world.actor("owner"), environment_id=world.environment.pk,
        model_version_id=world.public_version.pk, name="edge")
    version_delete = reverse("admin:registry_modelversion_delete",
                             args=[world.public_version.pk])
    environment_delete = reverse("admin:deployments_servingenvironment_delete",
                                 args=[world.environment.pk])
    model_delete = reverse("admin:registry_registeredmodel_delete",
                           args=[world.public_model.pk])

    model_page = admin_client.get(model_delete)
    admin_client.post(model_delete, {"post": "yes"})
    version_page = admin_client.get(version_delete)
    admin_client.post(version_delete, {"post": "yes"})
    environment_page = admin_client.get(environment_delete)
    admin_client.post(environment_delete, {"post": "yes"})

    assert model_page.context["protected"] == ["Deployed inference service: production/edge"]
    assert version_page.context["protected"] == ["Deployed inference service: production/edge"]
    assert [str(obj) for obj in environment_page.context["protected"]] == [
        "Inference service: <a href=\"/admin/deployments/inferenceservice/"
        f"{InferenceService.objects.get().pk}/change/\">edge</a>"]
    assert ModelVersion.objects.filter(pk=world.public_version.pk).exists() is True
    assert RegisteredModel.objects.filter(pk=world.public_model.pk).exists() is True
    assert InferenceService.objects.count() == 1
