"""A tenant populated for permission tests: one subject model and dataset, every kind of
caller, and public neighbours whose nested relations point at the subject."""

from dataclasses import dataclass, field

from django.test import Client
from strawberry.relay import to_base64

from accounts.models import Role, Tenant, TenantGroup, User
from accounts.selectors import actor_for
from accounts.services import ensure_default_tenant, tenant_group_create
from registry import models, services
from registry.urls_public import archive_url, file_download_url
from tests.conftest import GraphQLClient
from tests.factories import (
    DatasetFactory,
    DatasetVersionFactory,
    MembershipFactory,
    ModelVersionFactory,
    RegisteredModelFactory,
    TenantFactory,
    UserFactory,
    artifact_file,
)
from usage.models import DailyUsage

# Every kind of caller, in the order of the expectation tables.
CALLERS = ["anonymous", "viewer", "maintainer", "owner", "shared_user", "group_member",
           "change_grantee", "manage_grantee", "tenant_admin", "other_tenant", "superuser"]


TYPE_NAMES = {models.RegisteredModel: "RegisteredModel", models.Dataset: "Dataset",
              models.ModelVersion: "ModelVersion", models.DatasetVersion: "DatasetVersion",
              models.ArtifactFile: "ArtifactFile", models.ModelAlias: "ModelAlias",
              User: "User", TenantGroup: "TenantGroup"}


def gid(obj) -> str:
    return to_base64(TYPE_NAMES[type(obj)], obj.pk)


def missing_gid(model_class: type) -> str:
    """The global id of an object of `model_class` that does not exist."""
    last = model_class.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return to_base64(TYPE_NAMES[model_class], last + 1000)


@dataclass
class World:
    tenant: Tenant
    other_tenant: Tenant
    users: dict[str, User | None]
    model: models.RegisteredModel
    model_version: models.ModelVersion
    file: models.ArtifactFile
    alias: models.ModelAlias
    dataset: models.Dataset
    dataset_version: models.DatasetVersion
    public_model: models.RegisteredModel
    public_dataset_version: models.DatasetVersion
    groups: dict[str, TenantGroup] = field(default_factory=dict)

    def tenant_of(self, caller: str) -> Tenant:
        return self.other_tenant if caller == "other_tenant" else self.tenant

    def headers(self, caller: str) -> dict[str, str]:
        return {"X-Registry-Tenant": self.tenant_of(caller).slug}

    def graphql(self, caller: str) -> GraphQLClient:
        return GraphQLClient(self.http(caller), headers=self.headers(caller))

    def http(self, caller: str) -> Client:
        client = Client()
        if self.users[caller] is not None:
            client.force_login(self.users[caller])
        return client

    def actor(self, caller: str):
        return actor_for(user=self.users[caller], tenant=self.tenant_of(caller))

    def download_urls(self) -> list[str]:
        return [file_download_url(self.file), archive_url(self.model_version)]


def _user(username: str, **fields) -> User:
    # Callers log in with force_login: no password, so no (deliberately slow) hashing.
    return UserFactory(username=username, password=None, **fields)


def _member(tenant: Tenant, role: str, username: str) -> User:
    user = _user(username)
    MembershipFactory(user=user, tenant=tenant, role=role)
    return user


def build_world(visibility: str) -> World:
    """The subject model and dataset have `visibility`, are owned by `owner`, and are shared
    with `shared_user` (VIEW), group `readers` (VIEW), `change_grantee` (CHANGE) and group
    `managers` (MANAGE)."""
    tenant = ensure_default_tenant()
    tenant.allow_anonymous_read = True
    tenant.save(update_fields=["allow_anonymous_read"])
    other_tenant = TenantFactory(slug="elsewhere")
    users: dict[str, User | None] = {"anonymous": None}
    for name, role in [("viewer", Role.VIEWER), ("maintainer", Role.MAINTAINER),
                       ("owner", Role.MAINTAINER), ("shared_user", Role.VIEWER),
                       ("group_member", Role.VIEWER), ("change_grantee", Role.VIEWER),
                       ("manage_grantee", Role.MAINTAINER), ("tenant_admin", Role.ADMIN)]:
        users[name] = _member(tenant, role, name)
    users["other_tenant"] = _member(other_tenant, Role.ADMIN, "other_tenant")
    users["superuser"] = _user("superuser", is_superuser=True, is_staff=True)
    groups = {name: tenant_group_create(tenant=tenant, name=name)
              for name in ("readers", "managers")}
    groups["readers"].group.user_set.add(users["group_member"])
    groups["managers"].group.user_set.add(users["manage_grantee"])

    owner = users["owner"]
    model = RegisteredModelFactory(tenant=tenant, owner=owner, name="subject-model",
                                   visibility=visibility)
    model_version = ModelVersionFactory(model=model, version="1.0.0")
    file = artifact_file(model_version)
    dataset = DatasetFactory(tenant=tenant, owner=owner, name="subject-dataset",
                             visibility=visibility)
    dataset_version = DatasetVersionFactory(dataset=dataset, version="1.0.0")
    model.datasets.add(dataset)

    # Public neighbours of another owner: their lineage points at the subject.
    neighbour = users["maintainer"]
    public_model = RegisteredModelFactory(tenant=tenant, owner=neighbour, name="public-model",
                                          visibility=models.Visibility.PUBLIC)
    public_model.datasets.add(dataset)
    public_model_version = ModelVersionFactory(model=public_model, version="2.0.0")
    public_model_version.dataset_versions.add(dataset_version)
    public_dataset = DatasetFactory(tenant=tenant, owner=neighbour, name="public-dataset",
                                    visibility=models.Visibility.PUBLIC)
    public_dataset_version = DatasetVersionFactory(dataset=public_dataset, version="3.0.0")
    model_version.dataset_versions.add(public_dataset_version)

    owner_actor = actor_for(user=owner, tenant=tenant)
    # Through the service, so the alias has its history.
    alias = services.model_alias_set(actor=owner_actor, model_id=model.pk, alias="champion",
                                     version_id=model_version.pk)
    for entry_class, entry in ((models.RegisteredModel, model), (models.Dataset, dataset)):
        for level, user_ids, group_ids in [
            (models.AccessLevel.VIEW, [users["shared_user"].pk], [groups["readers"].pk]),
            (models.AccessLevel.CHANGE, [users["change_grantee"].pk], []),
            (models.AccessLevel.MANAGE, [], [groups["managers"].pk]),
        ]:
            services.catalog_entry_share(entry_class=entry_class, actor=owner_actor,
                                         entry_id=entry.pk, level=level, user_ids=user_ids,
                                         group_ids=group_ids)
    return World(tenant=tenant, other_tenant=other_tenant, users=users, model=model,
                 model_version=model_version, file=file, alias=alias, dataset=dataset,
                 dataset_version=dataset_version, public_model=public_model,
                 public_dataset_version=public_dataset_version, groups=groups)


def catalog_state() -> dict:
    """Everything a refused call must leave as it was."""
    user_grants = models.RegisteredModelUserObjectPermission.objects
    group_grants = models.RegisteredModelGroupObjectPermission.objects
    return {
        "models": list(models.RegisteredModel.objects.order_by("pk").values()),
        "datasets": list(models.Dataset.objects.order_by("pk").values()),
        "model versions": list(models.ModelVersion.objects.order_by("pk").values()),
        "dataset versions": list(models.DatasetVersion.objects.order_by("pk").values()),
        "files": list(models.ArtifactFile.objects.order_by("pk").values()),
        "aliases": list(models.ModelAlias.objects.order_by("pk").values()),
        "alias history": list(models.ModelAliasEvent.objects.order_by("pk").values()),
        "lineage": list(models.LineageLink.objects.order_by("pk").values()),
        "model datasets": list(models.RegisteredModel.datasets.through.objects
                               .order_by("pk").values()),
        "model user grants": list(user_grants.order_by("pk").values()),
        "model group grants": list(group_grants.order_by("pk").values()),
        "dataset user grants": list(models.DatasetUserObjectPermission.objects
                                    .order_by("pk").values()),
        "dataset group grants": list(models.DatasetGroupObjectPermission.objects
                                     .order_by("pk").values()),
        "downloads": list(DailyUsage.objects.order_by("pk").values()),
        "blobs": list(models.Blob.objects.order_by("pk").values()),
        "upload sessions": list(models.UploadSession.objects.order_by("pk").values()),
    }
