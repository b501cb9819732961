"""Blobs on both backends: reference counting, garbage collection, verification, orphans."""

import errno
import io
import os
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from strawberry.relay import to_base64

from mlflow_compat.models import Experiment, LoggedModel, LoggedModelFile
from registry.models import Blob, RegisteredModel
from registry.storage import blobs, filesystem
from registry.storage.backends import backend
from registry.storage.s3 import S3Backend
from registry.tasks import collect_unreferenced_blobs_task, verify_storage_sample_task
from tests.factories import ModelVersionFactory, RegisteredModelFactory, artifact_file
from tests.registry.test_upload import sha256, stored_keys


@pytest.fixture
def version(default_tenant, maintainer):
    return ModelVersionFactory(model=RegisteredModelFactory(tenant=default_tenant,
                                                            owner=maintainer))


def overwrite(key: str, content: bytes) -> None:
    """Alter a stored object behind the registry's back."""
    store = backend()
    if isinstance(store, S3Backend):
        store.client.put_object(Bucket=store.bucket, Key=key, Body=content)
    else:
        store.path(key).write_bytes(content)


def put_stray_object(tenant, name: str, age: timedelta = timedelta(0)) -> str:
    """An object no blob accounts for, written `age` ago."""
    key = f"tenants/{tenant.pk}/blobs/ab/{name}"
    store = backend()
    written = (timezone.now() - age).timestamp()
    if isinstance(store, S3Backend):
        with time_machine.travel(written):  # moto dates objects by our (travelling) clock
            store.client.put_object(Bucket=store.bucket, Key=key, Body=b"stray")
    else:
        store.path(key).parent.mkdir(parents=True, exist_ok=True)
        store.path(key).write_bytes(b"stray")
        os.utime(store.path(key), (written, written))
    return key


def run_verify(*args) -> tuple[str, str]:
    out = io.StringIO()
    try:
        call_command("verify_storage", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), str(error)
    return out.getvalue(), ""


def test_blob_open_is_seekable(storage_backend, default_tenant):
    blob = blobs.blob_store_stream(tenant=default_tenant,
                                     stream=io.BytesIO(bytes(range(200))))

    with blobs.blob_open(blob) as stream:
        size = stream.seek(0, io.SEEK_END)
        stream.seek(100)
        middle = stream.read(5)
        stream.seek(-3, io.SEEK_END)
        tail = stream.read()

    assert (size, middle, tail) == (200, bytes(range(100, 105)), bytes([197, 198, 199]))


def test_missing_object_opens_as_file_not_found(storage_backend, default_tenant):
    blob = blobs.blob_store_stream(tenant=default_tenant, stream=io.BytesIO(b"gone"))
    backend().delete(blob.storage_key)

    with pytest.raises(FileNotFoundError):
        blobs.blob_open(blob)


def test_shared_blob_lives_until_its_last_file_goes(storage_backend, version, gql,
                                                    django_capture_on_commit_callbacks):
    kept = artifact_file(version, path="a.bin", content=b"shared")
    other_model = RegisteredModelFactory(tenant=version.model.tenant, owner=version.model.owner)
    artifact_file(ModelVersionFactory(model=other_model), path="b.bin", content=b"shared")

    with django_capture_on_commit_callbacks(execute=True):
        blobs.blobs_release([kept.blob_id])  # still referenced twice: nothing happens
        RegisteredModel.objects.filter(pk=other_model.pk).delete()
        blobs.blobs_release([kept.blob_id])  # still referenced once
    assert stored_keys() == [kept.blob.storage_key]

    with django_capture_on_commit_callbacks(execute=True):
        version.files.all().delete()
        blobs.blobs_release([kept.blob_id])

    assert (Blob.objects.count(), stored_keys()) == (0, [])


def test_delete_model_through_graphql_releases_its_blobs(storage_backend, version, gql,
                                                        django_capture_on_commit_callbacks):
    from tests.registry.test_catalog_api import DELETE_MODEL, gid

    artifact_file(version, content=b"model bytes")

    with django_capture_on_commit_callbacks(execute=True):
        gql(DELETE_MODEL, {"id": gid(version.model)})

    assert (Blob.objects.count(), stored_keys()) == (0, [])


def test_garbage_collection_removes_unreferenced_blobs(storage_backend, version,
                                                       default_tenant):
    referenced = artifact_file(version, content=b"in use")
    unreferenced = blobs.blob_store_stream(tenant=default_tenant,
                                             stream=io.BytesIO(b"left behind"))

    result = collect_unreferenced_blobs_task.delay().get()

    assert result == {"blobs_deleted": 1, "orphans_deleted": 0}
    assert list(Blob.objects.values_list("pk", flat=True)) == [referenced.blob_id]
    assert stored_keys() == [referenced.blob.storage_key]
    assert not Blob.objects.filter(pk=unreferenced.pk).exists()


def test_garbage_collection_keeps_a_blob_another_app_refers_to(storage_backend,
                                                               default_tenant):
    """An MLflow logged model's upload is no file yet: its blob must survive until it is."""
    uploaded = blobs.blob_store_stream(tenant=default_tenant, stream=io.BytesIO(b"logged"))
    experiment = Experiment.objects.create(tenant=default_tenant, name="Default")
    logged = LoggedModel.objects.create(model_id="m-1", experiment=experiment, name="model",
                                        created_at=0, updated_at=0)
    LoggedModelFile.objects.create(logged_model=logged, path="MLmodel", blob=uploaded)

    result = collect_unreferenced_blobs_task.delay().get()

    assert result == {"blobs_deleted": 0, "orphans_deleted": 0}
    assert stored_keys() == [uploaded.storage_key]
    logged.delete()
    assert collect_unreferenced_blobs_task.delay().get() == {"blobs_deleted": 1,
                                                             "orphans_deleted": 0}
    assert stored_keys() == []


def test_garbage_collection_removes_old_orphans_only(storage_backend, version,
                                                    default_tenant):
    referenced = artifact_file(version, content=b"in use")
    old = put_stray_object(default_tenant, "old", age=blobs.ORPHAN_MIN_AGE + timedelta(1))
    young = put_stray_object(default_tenant, "young",
                             age=blobs.ORPHAN_MIN_AGE - timedelta(minutes=5))

    result = collect_unreferenced_blobs_task.delay().get()

    assert result == {"blobs_deleted": 0, "orphans_deleted": 1}
    assert stored_keys() == sorted([referenced.blob.storage_key, young])
    assert old not in stored_keys()


def test_verify_storage_flags_missing_and_altered_blobs(storage_backend, version):
    intact = artifact_file(version, path="intact.bin", content=b"intact")
    altered = artifact_file(version, path="altered.bin", content=b"original")
    missing = artifact_file(version, path="missing.bin", content=b"missing")
    overwrite(altered.blob.storage_key, b"tampered")
    backend().delete(missing.blob.storage_key)

    output, error = run_verify()

    flagged = dict(Blob.objects.values_list("pk", "integrity_error"))
    assert flagged == {
        intact.blob_id: "",
        altered.blob_id: f"content mismatch: 8 bytes with sha256 {sha256(b'tampered')} stored",
        missing.blob_id: "missing from storage",
    }
    assert Blob.objects.filter(last_verified_at__isnull=True).count() == 0
    assert error == "2 blobs failed verification."
    assert output.splitlines() == [
        f"BAD     blob {missing.blob_id} {missing.blob.storage_key}: missing from storage",
        f"BAD     blob {altered.blob_id} {altered.blob.storage_key}: "
        f"{flagged[altered.blob_id]}",
        "3 blobs verified: 1 intact, 1 missing, 1 altered; 0 orphaned objects.",
    ]


def test_verify_storage_reports_and_deletes_orphans(storage_backend, version,
                                                    default_tenant):
    kept = artifact_file(version, content=b"kept")
    stray = put_stray_object(default_tenant, "stray")

    reported, _ = run_verify("--orphan-min-age", "0")
    deleted, _ = run_verify("--orphan-min-age", "0", "--delete-orphans")

    assert reported.splitlines() == [
        f"ORPHAN  {stray}", "1 blobs verified: 1 intact, 0 missing, 0 altered; "
                           "1 orphaned objects."]
    assert deleted.splitlines() == [
        f"DELETED {stray}", "1 blobs verified: 1 intact, 0 missing, 0 altered; "
                           "1 orphaned objects deleted."]
    assert stored_keys() == [kept.blob.storage_key]


def test_verify_storage_leaves_open_uploads_alone(storage_backend, version, gql):
    from tests.registry.test_upload import start

    start(gql, version, b"x" * 10, parts=1)

    output, _ = run_verify("--orphan-min-age", "0", "--delete-orphans")

    assert output.splitlines() == ["0 blobs verified: 0 intact, 0 missing, 0 altered; "
                                   "0 orphaned objects deleted."]


def test_verify_storage_for_one_tenant(filesystem_storage, version):
    artifact_file(version, content=b"mine")

    assert run_verify("--tenant", "no-such-tenant") == ("", "No tenant 'no-such-tenant'.")
    assert run_verify("--tenant", version.model.tenant.slug)[0].splitlines() == [
        "1 blobs verified: 1 intact, 0 missing, 0 altered; 0 orphaned objects."]


def test_periodic_verification_takes_the_least_recently_verified(storage_backend, version,
                                                                 settings):
    settings.STORAGE_VERIFY_SAMPLE_SIZE = 2
    files = [artifact_file(version, path=f"f{i}.bin", content=b"%d" % i) for i in range(3)]
    Blob.objects.filter(pk=files[0].blob_id).update(last_verified_at=timezone.now())
    backend().delete(files[2].blob.storage_key)

    result = verify_storage_sample_task.delay().get()

    assert result == {"verified": 2, "missing": 1, "mismatched": 0}
    assert sorted(Blob.objects.filter(integrity_error="").values_list("pk", flat=True)) == [
        files[0].blob_id, files[1].blob_id]


def test_upload_spooled_on_another_filesystem_is_copied_once(filesystem_storage, gql,
                                                             maintainer, version, settings,
                                                             monkeypatch):
    """Django's temporary file is moved under its blob key; across filesystems, copied."""
    from tests.registry.test_upload import UPLOAD, stored_bytes

    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10
    real_replace = os.replace

    def replace_across_devices(source, target):
        if str(source).endswith(".upload.bin"):  # Django's temporary file, not our renames
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(source, target)

    monkeypatch.setattr(filesystem.os, "replace", replace_across_devices)
    content = b"spooled to a temporary file" * 10

    gql.upload(UPLOAD, {"v": to_base64("ModelVersion", version.pk), "path": "m.bin",
                        "f": None}, {"variables.f": ("m.bin", content)})

    blob = Blob.objects.get()
    assert stored_keys() == [blob.storage_key]
    assert stored_bytes(blob.storage_key) == content
    assert oct(backend().path(blob.storage_key).stat().st_mode & 0o777) == "0o644"
