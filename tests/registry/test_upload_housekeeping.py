"""Upload leftovers (issue 21, item 7): orphaned spooled bodies are swept by a beat job, and
open resumable sessions are capped per user without touching anyone else's uploads."""

import os
import time

import pytest
from prometheus_client import REGISTRY
from strawberry.relay import to_base64

from accounts.models import Role
from registry.models import UploadSession
from registry.tasks import sweep_upload_temp_files_task
from registry.upload_housekeeping import orphaned_upload_temp_files_delete
from tests.registry.test_upload import START, sha256, version_of

DAY = 24 * 3600


@pytest.fixture
def temp_dir(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.UPLOAD_TEMP_FILE_MAX_AGE_SECONDS = DAY
    return tmp_path


def aged(path, content: bytes, seconds: float):
    path.write_bytes(content)
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))
    return path


def test_the_sweep_deletes_only_spooled_bodies_older_than_the_threshold(temp_dir, caplog):
    orphan = aged(temp_dir / "tmpa1b2c3.upload.bin", b"x" * 1000, DAY + 60)
    orphan_no_extension = aged(temp_dir / "tmpz9.upload", b"y" * 24, 3 * DAY)
    in_progress = aged(temp_dir / "tmpd4e5.upload.pt", b"z", DAY - 60)
    someone_elses = aged(temp_dir / "report.txt", b"keep", 10 * DAY)
    other_temp = aged(temp_dir / "tmpother", b"keep", 10 * DAY)
    (temp_dir / "tmpdir.upload").mkdir()

    files_before = REGISTRY.get_sample_value("registry_upload_temp_files_swept_total") or 0
    bytes_before = REGISTRY.get_sample_value("registry_upload_temp_bytes_swept_total") or 0
    with caplog.at_level("INFO", logger="registry.upload_housekeeping"):
        swept = sweep_upload_temp_files_task.delay().get()

    assert swept == {"temp_files_deleted": 2, "temp_bytes_freed": 1024}
    assert not orphan.exists() and not orphan_no_extension.exists()
    assert in_progress.exists() and someone_elses.exists() and other_temp.exists()
    assert (temp_dir / "tmpdir.upload").is_dir()
    assert "2 orphaned files deleted, 1024 bytes freed" in caplog.text
    assert (REGISTRY.get_sample_value("registry_upload_temp_files_swept_total") - files_before,
            REGISTRY.get_sample_value("registry_upload_temp_bytes_swept_total") - bytes_before
            ) == (2, 1024)


def test_a_second_sweep_finds_nothing(temp_dir):
    aged(temp_dir / "tmpq.upload.bin", b"x", 2 * DAY)
    orphaned_upload_temp_files_delete()

    assert orphaned_upload_temp_files_delete() == {"temp_files_deleted": 0,
                                                   "temp_bytes_freed": 0}


def start_upload(gql, version, path: str) -> dict:
    return gql(START, {"v": to_base64("ModelVersion", version.pk), "path": path, "size": 10,
                       "sha": sha256(b"0123456789"), "n": 1}).data["startUpload"]


@pytest.mark.django_db
def test_open_sessions_are_capped_per_user_and_others_upload_unaffected(
        storage_backend, settings, gql, gql_as, maintainer, member_factory, default_tenant):
    settings.UPLOAD_SESSIONS_MAX_OPEN_PER_USER = 3
    version = version_of(maintainer, default_tenant)
    admin = member_factory(Role.ADMIN)

    opened = [start_upload(gql, version, f"part{i}.bin") for i in range(3)]
    refused = start_upload(gql, version, "one-too-many.bin")
    admins = start_upload(gql_as(admin), version, "admin.bin")

    assert [session["__typename"] for session in opened] == ["UploadSession"] * 3
    assert refused == {"__typename": "OperationInfo",
                       "messages": [{"code": "too_many_uploads", "field": "uploadId"}]}
    assert admins["__typename"] == "UploadSession"
    assert sorted(UploadSession.objects.values_list("path", flat=True)) == [
        "admin.bin", "part0.bin", "part1.bin", "part2.bin"]


@pytest.mark.django_db
def test_an_aborted_session_frees_its_place(storage_backend, settings, gql, maintainer,
                                            default_tenant):
    settings.UPLOAD_SESSIONS_MAX_OPEN_PER_USER = 1
    version = version_of(maintainer, default_tenant)
    first = start_upload(gql, version, "first.bin")

    gql('mutation($id: ID!) { abortUpload(uploadId: $id) { __typename } }', {"id": first["id"]})
    second = start_upload(gql, version, "second.bin")

    assert second["__typename"] == "UploadSession"
