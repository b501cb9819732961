"""A tenant with one object of every kind, built through the services, and the global ids
of its objects; `MISSING` gives ids of the same types that exist nowhere."""

from dataclasses import dataclass, field

from django.apps import apps
from strawberry.relay import from_base64, to_base64

from accounts import services as account_services
from accounts.models import ApiToken, Membership, Role, Tenant, TenantGroup, User
from accounts.selectors import actor_for
from cleanup.models import CleanupProposal, ProposalItem, RetentionPolicy
from deployments import services as deployment_services
from deployments.models import InferenceService, ServingEnvironment
from registry import models, services, transfer, trash
from tests.factories import TenantFactory, UserFactory, artifact_file
from webhooks import services as webhook_services
from webhooks.models import DeliveryStatus, Webhook, WebhookDelivery

MISSING_PK = 987_654_321


@dataclass
class TenantWorld:
    tenant: Tenant
    admin: User
    member: User
    model: models.RegisteredModel
    dataset: models.Dataset
    model_version: models.ModelVersion
    dataset_version: models.DatasetVersion
    file: models.ArtifactFile
    dataset_file: models.ArtifactFile
    alias: models.ModelAlias
    tag: models.Tag
    metadata_key: models.MetadataKey
    group: TenantGroup
    api_token: ApiToken
    upload: models.UploadSession
    membership: Membership
    webhook: Webhook
    webhook_delivery: WebhookDelivery
    environment: ServingEnvironment
    inference_service: InferenceService
    cleanup_proposal: CleanupProposal
    cleanup_item: ProposalItem
    prefix: str
    # Global ids of objects some tests add (by role), e.g. trashed ones (`add_trash`).
    extra_ids: dict[str, str] = field(default_factory=dict)

    def ids(self) -> dict[str, str]:
        """Global ids of the world's objects, by role in the world."""
        return {
            "model": to_base64("RegisteredModel", self.model.pk),
            "dataset": to_base64("Dataset", self.dataset.pk),
            "model_version": to_base64("ModelVersion", self.model_version.pk),
            "dataset_version": to_base64("DatasetVersion", self.dataset_version.pk),
            "file": to_base64("ArtifactFile", self.file.pk),
            "dataset_file": to_base64("ArtifactFile", self.dataset_file.pk),
            "alias": to_base64("ModelAlias", self.alias.pk),
            "tag": to_base64("Tag", self.tag.pk),
            "metadata_key": to_base64("MetadataKey", self.metadata_key.pk),
            "group": to_base64("TenantGroup", self.group.pk),
            "api_token": to_base64("ApiToken", self.api_token.pk),
            "upload": to_base64("UploadSession", self.upload.pk),
            "member": to_base64("User", self.member.pk),
            "admin": to_base64("User", self.admin.pk),
            "tenant": to_base64("Tenant", self.tenant.pk),
            "membership": to_base64("Membership", self.membership.pk),
            "webhook": to_base64("Webhook", self.webhook.pk),
            "webhook_delivery": to_base64("WebhookDelivery", self.webhook_delivery.pk),
            "environment": to_base64("ServingEnvironment", self.environment.pk),
            "inference_service": to_base64("InferenceService", self.inference_service.pk),
            "cleanup_proposal": to_base64("CleanupProposal", self.cleanup_proposal.pk),
            "cleanup_item": to_base64("CleanupItem", self.cleanup_item.pk),
            **self.extra_ids,
        }

    def names(self) -> dict[str, str]:
        """What a caller could type to find the world's objects."""
        return {
            "model": self.model.name, "dataset": self.dataset.name,
            "project": self.model.project_name, "tag": self.tag.name,
            "metadata_key": self.metadata_key.name, "alias": self.alias.name,
            "word": f"{self.prefix}word", "owner": self.admin.username,
            "category": self.model.category, "version": self.model_version.version,
            "slug": self.tenant.slug, "group": self.group.name,
            "environment": self.environment.name,
            "inference_service": self.inference_service.name,
        }

    def urls(self) -> dict[str, str]:
        return {
            "file": f"/files/{self.file.pk}/download",
            "dataset_file": f"/files/{self.dataset_file.pk}/download",
            "model_archive": f"/versions/model/{self.model_version.pk}/archive",
            "dataset_archive": f"/versions/dataset/{self.dataset_version.pk}/archive",
        }


def missing_ids(world: TenantWorld) -> dict[str, str]:
    """The same types as `world.ids()`, with primary keys that exist nowhere."""
    return {key: to_base64(from_base64(value)[0], MISSING_PK)
            for key, value in world.ids().items()}


def missing_names(world: TenantWorld) -> dict[str, str]:
    return {key: f"nothing-{value}" for key, value in world.names().items()}


def missing_urls() -> dict[str, str]:
    return {"file": f"/files/{MISSING_PK}/download",
            "dataset_file": f"/files/{MISSING_PK + 1}/download",
            "model_archive": f"/versions/model/{MISSING_PK}/archive",
            "dataset_archive": f"/versions/dataset/{MISSING_PK}/archive"}


def build_world(prefix: str) -> TenantWorld:
    tenant = TenantFactory(slug=f"{prefix}-corp")
    admin = UserFactory(username=f"{prefix}-admin")
    member = UserFactory(username=f"{prefix}-member")
    Membership.objects.create(user=admin, tenant=tenant, role=Role.ADMIN)
    membership = Membership.objects.create(user=member, tenant=tenant, role=Role.MAINTAINER)
    actor = actor_for(user=admin, tenant=tenant)
    dataset = services.catalog_entry_create(
        entry_class=models.Dataset, actor=actor, name=f"{prefix}-images",
        visibility=models.Visibility.PUBLIC, tags=[f"{prefix}-vision"],
        metadata={f"{prefix}-team": "perception"}, description=f"{prefix}word pictures",
    )
    model = services.catalog_entry_create(
        entry_class=models.RegisteredModel, actor=actor, name=f"{prefix}-detector",
        project_name=f"{prefix}-project", category=f"{prefix}-category",
        visibility=models.Visibility.PUBLIC, tags=[f"{prefix}-vision"],
        metadata={f"{prefix}-team": "perception"}, description=f"{prefix}word finds cars",
        datasets=[dataset.pk],
    )
    dataset_version = services.version_create(
        version_class=models.DatasetVersion, actor=actor, parent_id=dataset.pk, version="1.0.0")
    model_version = services.version_create(
        version_class=models.ModelVersion, actor=actor, parent_id=model.pk, version="2.0.0",
        precision="FP16", dataset_version_ids=[dataset_version.pk],
    )
    alias = services.model_alias_set(actor=actor, model_id=model.pk, alias=f"{prefix}-champion",
                                     version_id=model_version.pk)
    group = account_services.tenant_group_create(tenant=tenant, name=f"{prefix}-team")
    group.group.user_set.add(member)
    api_token, _ = account_services.api_token_create(
        actor=actor_for(user=member, tenant=tenant), name="ci", scopes=["read"])
    upload = transfer.upload_start(actor=actor, version=model_version, path="big.bin",
                                   size=10, sha256="0" * 64, part_count=1)
    # Inactive, and created last: nothing the tests do is delivered anywhere.
    webhook, _ = webhook_services.webhook_create(
        actor=actor, url=f"https://hooks.{prefix}.example/registry", events=["model.created"],
        active=False)
    webhook_delivery = WebhookDelivery.objects.create(
        webhook=webhook, event="ping", payload={}, status=DeliveryStatus.FAILED, attempts=1)
    environment = deployment_services.environment_create(actor=actor, name=f"{prefix}-edge")
    inference_service = deployment_services.inference_service_create(
        actor=actor, environment_id=environment.pk, model_version_id=model_version.pk,
        name=f"{prefix}-detector-edge", endpoint_url=f"https://serving.{prefix}.example/")
    RetentionPolicy.objects.create(tenant=tenant, updated_by=admin)
    # Written as the proposal job writes them (its candidate rules have their own tests).
    cleanup_proposal = CleanupProposal.objects.create(tenant=tenant, dormant_days=180,
                                                      keep_newest=3, item_count=1)
    cleanup_item = ProposalItem.objects.create(
        proposal=cleanup_proposal, dataset_version=dataset_version,
        label=f"{dataset.name} {dataset_version.version}",
        version_created_at=dataset_version.created_at, newer_versions=0)
    return TenantWorld(
        tenant=tenant, admin=admin, member=member, model=model, dataset=dataset,
        model_version=model_version, dataset_version=dataset_version,
        file=artifact_file(model_version, content=f"{prefix} weights".encode()),
        dataset_file=artifact_file(dataset_version, path="images.zip",
                                   content=f"{prefix} images".encode()),
        alias=alias, tag=models.Tag.objects.get(tenant=tenant),
        metadata_key=models.MetadataKey.objects.get(tenant=tenant), group=group,
        api_token=api_token, upload=upload, membership=membership, webhook=webhook,
        webhook_delivery=webhook_delivery, environment=environment,
        inference_service=inference_service, cleanup_proposal=cleanup_proposal,
        cleanup_item=cleanup_item, prefix=prefix,
    )


def add_trash(world: TenantWorld) -> None:
    """A trashed model version and dataset version (with a file each) and a file trashed on
    its own, in `world.extra_ids` as trashed_model_version, trashed_dataset_version and
    trashed_file."""
    actor = actor_for(user=world.admin, tenant=world.tenant)
    trashed = {}
    for key, version_class, parent in [("trashed_model_version", models.ModelVersion,
                                        world.model),
                                       ("trashed_dataset_version", models.DatasetVersion,
                                        world.dataset)]:
        version = services.version_create(version_class=version_class, actor=actor,
                                          parent_id=parent.pk, version="0.9.0")
        artifact_file(version, path="old.bin", content=f"{world.prefix} old".encode())
        trash.version_trash(actor=actor, version=version, reason="test")
        trashed[key] = to_base64(version_class.__name__, version.pk)
    artifact = artifact_file(world.model_version, path="old.onnx",
                             content=f"{world.prefix} old weights".encode())
    trash.file_trash(actor=actor, artifact=artifact, reason="test")
    trashed["trashed_file"] = to_base64("ArtifactFile", artifact.pk)
    world.extra_ids.update(trashed)


SNAPSHOT_APPS = ("accounts", "auth", "guardian", "registry", "scanning", "webhooks",
                 "deployments", "cleanup")


def database_snapshot() -> dict[str, list[dict]]:
    """Every row the registry keeps, to prove a refused call changed nothing."""
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label in SNAPSHOT_APPS
    }
