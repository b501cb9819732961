"""`ModelVersion.inferenceServices` costs the same few queries per page, whatever its size,
and a page that does not ask for it reads no service at all."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deployments import services as deployment_services
from registry import models, services

pytestmark = pytest.mark.django_db

WITH_SERVICES = """{ models(first: 20) { edges { node { name versions(first: 5) { edges { node {
  version inferenceServices { name state labels environment { name } } } } } } } } }"""
WITHOUT_SERVICES = """{ models(first: 20) { edges { node { name versions(first: 5) { edges { node {
  version } } } } } } }"""


def add_models(world, count: int) -> None:
    add_models_named(world, "extra", count)


def add_models_named(world, prefix: str, count: int) -> None:
    """`count` public models, each with a version served by two services."""
    owner = world.actor("owner")
    for index in range(count):
        model = services.catalog_entry_create(entry_class=models.RegisteredModel, actor=owner,
                                              name=f"{prefix}-{index}",
                                              visibility=models.Visibility.PUBLIC)
        version = services.version_create(version_class=models.ModelVersion, actor=owner,
                                          parent_id=model.pk, version="1.0.0")
        for name in ("a", "b"):
            deployment_services.inference_service_create(
                actor=owner, environment_id=world.environment.pk,
                model_version_id=version.pk, name=f"{prefix}-{name}-{index}",
                labels={"n": name})


def queries(world, query: str) -> list[str]:
    client = world.client("viewer")
    with CaptureQueriesContext(connection) as captured:
        assert "errors" not in client(query).body
    return [entry["sql"] for entry in captured.captured_queries]


def test_the_services_of_a_page_cost_the_same_for_one_or_many_versions(world):
    add_models(world, 1)
    few = queries(world, WITH_SERVICES)
    add_models_named(world, "more", 5)
    many = queries(world, WITH_SERVICES)

    # The services, then their environments: two prefetches, for 1 version or 6.
    assert [len([q for q in sql if "deployments_" in q]) for sql in (few, many)] == [2, 2]


def test_a_page_that_does_not_ask_reads_no_service(world):
    add_models(world, 2)

    sql = queries(world, WITHOUT_SERVICES)

    assert [statement for statement in sql if "deployments_" in statement] == []
