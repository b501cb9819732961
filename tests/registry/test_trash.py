"""The trash: deleting moves versions and files there (hidden, not downloadable), tenant
admins restore them inside the window, and the purge deletes them and the bytes no kept file
shares, resumably and once, on the filesystem and on S3."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from strawberry.relay import to_base64

from accounts.models import Role, Tenant
from accounts.selectors import actor_for
from audit.models import ActorKind, AuditEntry
from deployments import services as deployment_services
from deployments.models import DeploymentState
from registry import services, trash
from registry.errors import RegistryErrorCode as Code
from registry.models import ArtifactFile, Blob, ModelVersion, RegisteredModel
from registry.trash import PurgeResult
from registry.urls_public import archive_url, file_download_url
from tests.accounts.conftest import served_status
from tests.conftest import graphql_client_for
from tests.factories import ModelVersionFactory, RegisteredModelFactory, artifact_file
from tests.registry.test_upload import stored_keys

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ERRORS = "... on OperationInfo { messages { code field } }"
DELETE_VERSION = ("mutation($id: ID!) { result: deleteModelVersion(id: $id) { __typename "
                  "... on Deletion { deletedId } " + ERRORS + " } }")
DELETE_FILE = ("mutation($id: ID!) { result: deleteFile(id: $id) { __typename "
               "... on Deletion { deletedId } " + ERRORS + " } }")
RESTORE_VERSION = ("mutation($id: ID!) { result: restoreModelVersion(id: $id) { __typename "
                   "... on ModelVersion { version } " + ERRORS + " } }")
RESTORE_FILE = ("mutation($id: ID!) { result: restoreFile(id: $id) { __typename "
                "... on ArtifactFile { path } " + ERRORS + " } }")
MODEL = """query($id: ID!) { node(id: $id) { ... on RegisteredModel {
  latestVersion { version } versions { totalCount edges { node { version
    files { path } } } } } } }"""
NODE = "query($id: ID!) { node(id: $id) { id } }"
TRASH = "{ trash { id name size reason trashedBy trashedAt purgeAfter } }"


def gid(obj) -> str:
    return to_base64(type(obj).__name__, obj.pk)


@pytest.fixture
def admin(member_factory):
    return member_factory(Role.ADMIN, username="root-of-tenant")


@pytest.fixture
def model(default_tenant, maintainer):
    return RegisteredModelFactory(tenant=default_tenant, owner=maintainer, name="detector")


@pytest.fixture
def versions(model):
    """1.0.0 with `shared.bin`; 2.0.0 (the newest) with the same bytes and `own.bin`."""
    old = ModelVersionFactory(model=model, version="1.0.0")
    new = ModelVersionFactory(model=model, version="2.0.0")
    artifact_file(old, path="shared.bin", content=b"shared bytes")
    artifact_file(new, path="shared.bin", content=b"shared bytes")
    artifact_file(new, path="own.bin", content=b"own bytes")
    return old, new


def download(user, artifact) -> int:
    client = Client()
    client.force_login(user)
    return client.get(file_download_url(artifact)).status_code


def archive(user, version) -> int:
    client = Client()
    client.force_login(user)
    return client.get(archive_url(version)).status_code


def listed(user, model) -> dict:
    return graphql_client_for(user)(MODEL, {"id": gid(model)}).data["node"]


def test_a_deleted_version_is_trashed_hidden_everywhere_and_restored_by_an_admin(
        storage_backend, model, versions, maintainer, admin):
    old, new = versions
    own = new.files.get(path="own.bin")

    with time_machine.travel(T0, tick=False):
        deleted = graphql_client_for(maintainer)(DELETE_VERSION, {"id": gid(new)}).data

    new.refresh_from_db()
    assert deleted == {"result": {"__typename": "Deletion", "deletedId": gid(new)}}
    assert (new.trashed_at, new.purge_after, new.trash_reason, new.trashed_by) == (
        T0, T0 + timedelta(days=30), "Deleted", maintainer)
    assert set(new.files.values_list("trashed_at", flat=True)) == {T0}
    assert (download(maintainer, own), download(admin, own)) == (404, 404)
    assert (archive(maintainer, new), archive(admin, new)) == (404, 404)
    assert listed(admin, model) == {
        "latestVersion": {"version": "1.0.0"},
        "versions": {"totalCount": 1, "edges": [
            {"node": {"version": "1.0.0", "files": [{"path": "shared.bin"}]}}]}}
    assert graphql_client_for(admin)(NODE, {"id": gid(new)}).data == {"node": None}
    assert graphql_client_for(admin)(NODE, {"id": gid(own)}).data == {"node": None}
    assert graphql_client_for(maintainer)(TRASH).data == {"trash": []}
    assert graphql_client_for(admin)(TRASH).data == {"trash": [{
        "id": gid(new), "name": "detector 2.0.0", "size": 21, "reason": "Deleted",
        "trashedBy": maintainer.username, "trashedAt": "2026-03-01T12:00:00+00:00",
        "purgeAfter": "2026-03-31T12:00:00+00:00"}]}

    with time_machine.travel(T0 + timedelta(days=29), tick=False):
        refused = graphql_client_for(maintainer)(RESTORE_VERSION, {"id": gid(new)}).data
        restored = graphql_client_for(admin)(RESTORE_VERSION, {"id": gid(new)}).data

    assert refused == {"result": {"__typename": "OperationInfo", "messages": [
        {"code": "not_found", "field": "id"}]}}
    assert restored == {"result": {"__typename": "ModelVersion", "version": "2.0.0"}}
    assert download(maintainer, own) == served_status()
    assert archive(maintainer, new) == 200
    assert listed(maintainer, model)["latestVersion"] == {"version": "2.0.0"}
    assert ArtifactFile.objects.filter(trashed_at__isnull=False).count() == 0


def test_a_file_trashed_on_its_own_is_hidden_and_restored_alone(storage_backend, versions,
                                                              maintainer, admin):
    old, new = versions
    own = new.files.get(path="own.bin")

    deleted = graphql_client_for(maintainer)(DELETE_FILE, {"id": gid(own)}).data

    assert deleted == {"result": {"__typename": "Deletion", "deletedId": gid(own)}}
    assert download(maintainer, own) == 404
    # The version's archive is of its remaining files.
    assert archive(maintainer, new) == 200
    assert [entry["name"] for entry in graphql_client_for(admin)(TRASH).data["trash"]] == [
        "detector 2.0.0/own.bin"]
    # The path is free again while the file is in the trash.
    services.file_add_check(actor=actor_for(user=maintainer, tenant=own.tenant), version=new,
                            path="own.bin", size=1)

    restored = graphql_client_for(admin)(RESTORE_FILE, {"id": gid(own)}).data

    assert restored == {"result": {"__typename": "ArtifactFile", "path": "own.bin"}}
    assert download(maintainer, own) == served_status()


def test_a_file_of_a_trashed_version_comes_back_with_its_version_only(versions, admin):
    old, new = versions
    actor = actor_for(user=admin, tenant=new.model.tenant)
    trash.version_trash(actor=actor, version=new, reason="old")

    refused = graphql_client_for(admin)(RESTORE_FILE,
                                        {"id": gid(new.files.get(path="own.bin"))}).data

    assert refused == {"result": {"__typename": "OperationInfo", "messages": [
        {"code": "version_trashed", "field": "id"}]}}


def test_a_trashed_version_is_refused_aliases_uploads_freezing_and_a_second_trash(
        model, versions, admin):
    old, new = versions
    actor = actor_for(user=admin, tenant=model.tenant)
    trash.version_trash(actor=actor, version=new, reason="old")
    attempts = {
        "alias": lambda: services.model_alias_set(actor=actor, model_id=model.pk,
                                                  alias="champion", version_id=new.pk),
        "upload": lambda: services.file_add_check(actor=actor, version=new, path="x.bin",
                                                  size=1),
        "immutable": lambda: services.version_immutable_set(actor=actor, version=new,
                                                            immutable=True),
        "trash": lambda: trash.version_trash(actor=actor, version=new, reason="again"),
    }
    codes = {}
    for name, attempt in attempts.items():
        with pytest.raises(ValidationError) as refused:
            attempt()
        codes[name] = [error.code for errors in refused.value.error_dict.values()
                       for error in errors]

    assert codes == {name: [Code.VERSION_TRASHED] for name in attempts}


def test_an_aliased_version_is_not_trashed(model, versions, admin):
    old, new = versions
    actor = actor_for(user=admin, tenant=model.tenant)
    services.model_alias_set(actor=actor, model_id=model.pk, alias="champion",
                             version_id=new.pk)

    with pytest.raises(ValidationError) as refused:
        trash.version_trash(actor=actor, version=new, reason="old")

    assert refused.value.error_dict["versionId"][0].code == Code.VERSION_ALIASED
    assert ModelVersion.objects.get(pk=new.pk).trashed_at is None


def test_with_the_trash_disabled_a_deleted_version_is_gone_at_once(
        versions, maintainer, django_capture_on_commit_callbacks):
    old, new = versions
    Tenant.objects.update(trash_enabled=False)

    with django_capture_on_commit_callbacks(execute=True):
        deleted = graphql_client_for(maintainer)(DELETE_VERSION, {"id": gid(new)}).data

    assert deleted == {"result": {"__typename": "Deletion", "deletedId": gid(new)}}
    assert ModelVersion.objects.filter(pk=new.pk).exists() is False
    assert sorted(Blob.objects.values_list("size", flat=True)) == [12]


def test_the_tenant_admins_set_the_restore_window(default_tenant, admin, maintainer, versions):
    update = ("mutation($days: Int!) { updateTenant(data: {id: $id, trashRestoreDays: $days}) "
              "{ __typename ... on Tenant { trashRestoreDays trashEnabled } " + ERRORS + " } }")
    update = update.replace("$id", f'"{to_base64("Tenant", default_tenant.pk)}"')

    answers = [graphql_client_for(admin)(update, {"days": days}).data["updateTenant"]
               for days in (0, 366, 7)]
    trash.version_trash(actor=actor_for(user=admin, tenant=default_tenant),
                        version=versions[1], reason="old")

    assert answers == [
        {"__typename": "OperationInfo", "messages": [
            {"code": "invalid_trash_restore_days", "field": "trashRestoreDays"}]}] * 2 + [
        {"__typename": "Tenant", "trashRestoreDays": 7, "trashEnabled": True}]
    versions[1].refresh_from_db()
    assert versions[1].purge_after - versions[1].trashed_at == timedelta(days=7)


def test_a_deployed_version_stays_and_an_undeployed_service_goes_with_its_version(
        model, versions, admin):
    old, new = versions
    actor = actor_for(user=admin, tenant=model.tenant)
    environment = deployment_services.environment_create(actor=actor, name="edge")
    service = deployment_services.inference_service_create(
        actor=actor, environment_id=environment.pk, model_version_id=new.pk, name="edge-1")
    services_query = "{ inferenceServices { totalCount } }"

    with pytest.raises(ValidationError) as refused:
        trash.version_trash(actor=actor, version=new, reason="old")
    deployment_services.inference_service_update(actor=actor, service_id=service.pk,
                                                 state=DeploymentState.UNDEPLOYED)
    trash.version_trash(actor=actor, version=new, reason="old")
    while_trashed = graphql_client_for(admin)(services_query).data
    trash.version_restore(actor=actor, version=new)

    assert refused.value.error_dict["versionId"][0].code == "version_deployed"
    assert while_trashed == {"inferenceServices": {"totalCount": 0}}
    assert graphql_client_for(admin)(services_query).data == {
        "inferenceServices": {"totalCount": 1}}


# --- Purge ---------------------------------------------------------------------------------

def test_the_purge_deletes_after_the_window_and_reclaims_only_unshared_bytes(
        storage_backend, model, versions, admin, django_capture_on_commit_callbacks):
    old, new = versions
    actor = actor_for(user=admin, tenant=model.tenant)
    shared_key = old.files.get().blob.storage_key
    with time_machine.travel(T0, tick=False):
        trash.version_trash(actor=actor, version=new, reason="dormant")

    with django_capture_on_commit_callbacks(execute=True):
        early = trash.trash_purge_due(now=T0 + timedelta(days=29))
    with time_machine.travel(T0 + timedelta(days=31), tick=False):
        with pytest.raises(ValidationError) as too_late:
            trash.version_restore(actor=actor, version=new)
        with django_capture_on_commit_callbacks(execute=True):
            purged = trash.trash_purge_due()
        again = trash.trash_purge_due()

    assert early == PurgeResult(0, 0, 0)
    assert too_late.value.error_dict["id"][0].code == Code.RESTORE_WINDOW_PASSED
    assert purged == PurgeResult(versions=1, files=2, bytes_reclaimed=len(b"own bytes"))
    assert again == PurgeResult(0, 0, 0)
    assert list(ModelVersion.objects.values_list("version", flat=True)) == ["1.0.0"]
    assert list(ArtifactFile.objects.values_list("path", flat=True)) == ["shared.bin"]
    assert (list(Blob.objects.values_list("storage_key", flat=True)), stored_keys()) == (
        [shared_key], [shared_key])
    assert RegisteredModel.objects.get(pk=model.pk).latest_version_id == old.pk


def test_a_file_is_purged_only_from_the_trash(versions):
    old, new = versions
    own = new.files.get(path="own.bin")

    with pytest.raises(ValidationError) as refused:
        trash.file_purge(own)

    assert refused.value.error_dict["id"][0].code == Code.NOT_TRASHED
    assert ArtifactFile.objects.filter(pk=own.pk).exists() is True


def test_an_interrupted_purge_leaves_every_file_on_its_blob_and_a_rerun_finishes(
        storage_backend, model, admin, monkeypatch, django_capture_on_commit_callbacks):
    version = ModelVersionFactory(model=model, version="3.0.0")
    for index in range(3):
        artifact_file(version, path=f"part-{index}.bin", content=f"part {index}".encode())
    trash.version_trash(actor=actor_for(user=admin, tenant=model.tenant), version=version,
                        reason="old")
    monkeypatch.setattr(trash, "PURGE_BATCH_SIZE", 1)
    real_batch = trash._files_purge_batch
    calls = []

    def crash_after_the_first_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(trash, "_files_purge_batch", crash_after_the_first_batch)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        trash.version_purge(version)
    left = list(ArtifactFile.objects.order_by("path").values_list("path", "blob__storage_key"))
    stored_after_the_crash = set(stored_keys())
    monkeypatch.setattr(trash, "_files_purge_batch", real_batch)
    with django_capture_on_commit_callbacks(execute=True):
        finished = trash.version_purge(version)

    assert [path for path, _ in left] == ["part-1.bin", "part-2.bin"]
    assert {key for _, key in left} <= stored_after_the_crash
    assert finished == PurgeResult(versions=1, files=2, bytes_reclaimed=12)
    assert (ModelVersion.objects.filter(pk=version.pk).exists(), ArtifactFile.objects.count(),
            Blob.objects.count(), stored_keys()) == (False, 0, 0, [])


def test_purging_twice_in_a_row_counts_once(versions, admin):
    old, new = versions
    trash.version_trash(actor=actor_for(user=admin, tenant=new.model.tenant), version=new,
                        reason="old")

    first, second = trash.version_purge(new), trash.version_purge(new)

    assert (first, second) == (PurgeResult(1, 2, 9), PurgeResult(0, 0, 0))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_purges_at_once_delete_and_count_each_object_once(default_tenant, member_factory):
    admin = member_factory(Role.ADMIN)
    model = RegisteredModelFactory(tenant=default_tenant, owner=admin, name="busy")
    actor = actor_for(user=admin, tenant=default_tenant)
    for number in range(4):
        version = ModelVersionFactory(model=model, version=f"{number}.0.0")
        for index in range(3):
            artifact_file(version, path=f"{index}.bin", content=f"{number}/{index}".encode())
        trash.version_trash(actor=actor, version=version, reason="old")
    results = []
    start = threading.Barrier(2)

    def purge():
        start.wait()
        try:
            results.append(trash.trash_purge_due(now=datetime.now(UTC) + timedelta(days=31)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=purge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(results, PurgeResult()) == PurgeResult(versions=4, files=12,
                                                      bytes_reclaimed=12 * 3)
    assert (ModelVersion.objects.count(), ArtifactFile.objects.count(),
            Blob.objects.count()) == (0, 0, 0)


# --- The admin console ---------------------------------------------------------------------

def test_the_admin_moves_versions_to_the_trash_filters_and_restores_them(
        member_factory, versions):
    old, new = versions
    staff_admin = member_factory(Role.ADMIN, username="console-admin", is_staff=True)
    client = Client()
    client.force_login(staff_admin)
    changelist = reverse("admin:registry_modelversion_changelist")

    client.post(changelist, {"action": "move_to_trash", ACTION_CHECKBOX_NAME: [new.pk]})
    in_trash = client.get(changelist, {"trash": "yes"}).context["cl"].result_list
    not_in_trash = client.get(changelist, {"trash": "no"}).context["cl"].result_list
    delete_page = client.get(reverse("admin:registry_modelversion_delete", args=[new.pk]))
    purge_after = ModelVersion.objects.get(pk=new.pk).purge_after
    client.post(changelist, {"action": "restore", ACTION_CHECKBOX_NAME: [new.pk]})

    assert [version.version for version in in_trash] == ["2.0.0"]
    assert [version.version for version in not_in_trash] == ["1.0.0"]
    assert delete_page.context["protected"] == [
        f"In the trash (purged after {purge_after:%Y-%m-%d}): 2.0.0"]
    assert ModelVersion.objects.get(pk=new.pk).trashed_at is None
    assert RegisteredModel.objects.get(pk=new.model_id).latest_version_id == new.pk


def test_the_cleanup_job_trashes_and_purges_as_a_system_actor(versions):
    old, new = versions

    trash.version_trash(actor=None, version=new, reason="dormant for 90 days",
                        system="cleanup")
    purged = trash.version_purge(new, system="cleanup")

    assert purged == PurgeResult(versions=1, files=2, bytes_reclaimed=9)
    assert list(AuditEntry.objects.filter(action__in=["trash", "purge"]).order_by("pk")
                .values_list("action", "actor_kind", "actor_name", "object_name")) == [
        ("trash", ActorKind.SYSTEM, "cleanup", "2.0.0"),
        ("purge", ActorKind.SYSTEM, "cleanup", "2.0.0")]
