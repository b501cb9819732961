"""Fixtures of the scanning pipeline tests (the scanner library's tests need none)."""

from collections.abc import Callable

import pytest
from django.test import Client
from strawberry.relay import from_base64, to_base64

from accounts.models import Role
from registry.models import ArtifactFile, ModelVersion
from registry.urls_public import file_download_url
from tests.conftest import graphql_client_for
from tests.factories import ModelVersionFactory, RegisteredModelFactory

UPLOAD = """
mutation($versionId: ID!, $path: String!, $file: Upload!) {
  uploadFile(versionId: $versionId, path: $path, file: $file) {
    ... on ArtifactFile { id scanStatus }
    ... on OperationInfo { messages { code field message } }
  }
}
"""


def global_id(obj) -> str:
    """The relay id of a model instance whose GraphQL type has the model's name."""
    return to_base64(type(obj).__name__, obj.pk)


@pytest.fixture
def tenant_admin(member_factory):
    return member_factory(Role.ADMIN)


@pytest.fixture
def version(default_tenant, maintainer) -> ModelVersion:
    """A version of a private model owned by `maintainer`."""
    model = RegisteredModelFactory(tenant=default_tenant, owner=maintainer,
                                   visibility="private")
    return ModelVersionFactory(model=model)


@pytest.fixture
def upload(maintainer, version, django_capture_on_commit_callbacks) -> Callable[..., ArtifactFile]:
    """Uploads through GraphQL as `maintainer`; the scan queued on commit runs (eagerly)
    unless `scan=False`."""

    def send(content: bytes, path: str = "model.bin", *, scan: bool = True,
             into: ModelVersion | None = None, user=None) -> ArtifactFile:
        with django_capture_on_commit_callbacks(execute=scan):
            result = graphql_client_for(user or maintainer).upload(
                UPLOAD, {"versionId": global_id(into or version), "path": path, "file": None},
                {"variables.file": (path.rsplit("/", 1)[-1], content)},
            )
        payload = result.data["uploadFile"]
        assert "id" in payload, payload
        assert payload["scanStatus"] == "PENDING"  # as the upload answers, before any scan
        return ArtifactFile.objects.get(pk=from_base64(payload["id"])[1])

    return send


SERVED = "served"


def download_status(user, artifact: ArtifactFile) -> int | str:
    """SERVED when the download URL gives the bytes (200, or on S3 a 302 to a presigned URL),
    else the status code."""
    client = Client()
    client.force_login(user)
    status = client.get(file_download_url(artifact)).status_code
    return SERVED if status in (200, 302) else status
