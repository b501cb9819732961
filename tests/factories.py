import factory
from django.core.files.base import ContentFile

from accounts.models import Membership, Role, Tenant, User
from registry import models
from registry.services import latest_version_refresh
from registry.storage import blobs


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    organization = factory.Sequence(lambda n: f"Organization {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Role.MAINTAINER


class RegisteredModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.RegisteredModel

    tenant = factory.SubFactory(TenantFactory)
    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"model-{n}")
    visibility = models.Visibility.PUBLIC


class DatasetFactory(RegisteredModelFactory):
    class Meta:
        model = models.Dataset

    name = factory.Sequence(lambda n: f"dataset-{n}")


def _semver_fields(version: str) -> dict:
    from registry.validators import parse_semver

    major, minor, patch, prerelease = parse_semver(version)
    return {"version_major": major, "version_minor": minor, "version_patch": patch,
            "version_prerelease": prerelease}


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ModelVersion

    model = factory.SubFactory(RegisteredModelFactory)
    version = factory.Sequence(lambda n: f"1.0.{n}")
    created_by = factory.SelfAttribute("model.owner")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        version = super()._create(model_class, *args,
                                  **{**kwargs, **_semver_fields(kwargs["version"])})
        latest_version_refresh(version.model if hasattr(version, "model_id")
                               else version.dataset)
        return version


class DatasetVersionFactory(ModelVersionFactory):
    class Meta:
        model = models.DatasetVersion

    model = None
    dataset = factory.SubFactory(DatasetFactory)
    created_by = factory.SelfAttribute("dataset.owner")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        kwargs.pop("model", None)
        return super()._create(model_class, *args, **kwargs)


def artifact_file(version, path: str = "model.onnx", content: bytes = b"weights",
                  scan_status: str = models.ScanStatus.CLEAN) -> models.ArtifactFile:
    """A stored file of `version`, with real bytes in the configured storage."""
    parent = version.model if isinstance(version, models.ModelVersion) else version.dataset
    blob = blobs.blob_store_stream(tenant=parent.tenant, stream=ContentFile(content))
    field = "model_version" if isinstance(version, models.ModelVersion) else "dataset_version"
    return models.ArtifactFile.objects.create(
        tenant=parent.tenant, **{field: version}, path=path, blob=blob, size=blob.size,
        sha256=blob.sha256, uploaded_by=parent.owner, scan_status=scan_status,
    )
