"""A tenant with a public and a private model (one version each, both trained on one
dataset version), a serving environment, and the people who act on them."""

from dataclasses import dataclass

import pytest
from strawberry.relay import to_base64

from accounts.models import Role, User
from accounts.selectors import actor_for
from deployments import services as deployment_services
from deployments.models import ServingEnvironment
from registry import models, services
from tests.conftest import graphql_client_for


@dataclass
class World:
    admin: User
    owner: User
    viewer: User
    public_model: models.RegisteredModel
    private_model: models.RegisteredModel
    public_version: models.ModelVersion
    private_version: models.ModelVersion
    dataset_version: models.DatasetVersion
    environment: ServingEnvironment

    def client(self, who: str):
        return graphql_client_for(getattr(self, who))

    def actor(self, who: str):
        return actor_for(user=getattr(self, who), tenant=self.public_model.tenant)


def gid(obj) -> str:
    return to_base64(type(obj).__name__, obj.pk)


@pytest.fixture
def world(member_factory, default_tenant) -> World:
    admin = member_factory(Role.ADMIN, username="admin")
    owner = member_factory(Role.MAINTAINER, username="owner")
    viewer = member_factory(Role.VIEWER, username="viewer")
    actor = actor_for(user=owner, tenant=default_tenant)
    dataset = services.catalog_entry_create(entry_class=models.Dataset, actor=actor,
                                            name="street-images",
                                            visibility=models.Visibility.PUBLIC)
    dataset_version = services.version_create(version_class=models.DatasetVersion, actor=actor,
                                              parent_id=dataset.pk, version="1.0.0")
    versions = {}
    for name, visibility in [("detector", models.Visibility.PUBLIC),
                             ("secret-detector", models.Visibility.PRIVATE)]:
        model = services.catalog_entry_create(entry_class=models.RegisteredModel, actor=actor,
                                              name=name, visibility=visibility)
        versions[name] = services.version_create(
            version_class=models.ModelVersion, actor=actor, parent_id=model.pk,
            version="1.0.0", dataset_version_ids=[dataset_version.pk])
    environment = deployment_services.environment_create(
        actor=actor_for(user=admin, tenant=default_tenant), name="production",
        description="The edge fleet")
    return World(admin=admin, owner=owner, viewer=viewer,
                 public_model=versions["detector"].model,
                 private_model=versions["secret-detector"].model,
                 public_version=versions["detector"], private_version=versions["secret-detector"],
                 dataset_version=dataset_version, environment=environment)
