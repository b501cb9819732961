"""Uploads on both backends: uploadFile (GraphQL multipart) and the resumable protocol."""

import fcntl
import hashlib
import io
from datetime import timedelta

import pytest
import requests
import time_machine
from django.core import signing
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from strawberry.relay import to_base64

from accounts.models import Role
from accounts.selectors import actor_for
from registry import services, transfer, upload_handlers
from registry.models import (
    ArtifactFile,
    Blob,
    RegisteredModel,
    ScanStatus,
    UploadSession,
    UploadState,
)
from registry.storage import blobs, filesystem, keys, staging
from registry.storage.backends import backend
from registry.tasks import abort_stale_uploads_task
from tests.factories import ModelVersionFactory, RegisteredModelFactory, TenantFactory

MIB = 2**20
UPLOAD = """mutation($v: ID!, $path: String!, $f: Upload!) {
  uploadFile(versionId: $v, path: $path, file: $f) {
    __typename ... on ArtifactFile { id path size sha256 scanStatus }
    ... on OperationInfo { messages { code field } } } }"""
START = """mutation($v: ID!, $path: String!, $size: BigInt!, $sha: String!, $n: Int!) {
  startUpload(versionId: $v, path: $path, size: $size, sha256: $sha, partCount: $n) {
    __typename
    ... on UploadSession { id state path size partCount partSize
                           partUrls { partNumber url size } }
    ... on OperationInfo { messages { code field } } } }"""
COMPLETE = """mutation($id: ID!, $parts: [UploadPartInput!]!) {
  completeUpload(uploadId: $id, parts: $parts) {
    __typename ... on ArtifactFile { id path size sha256 scanStatus }
    ... on OperationInfo { messages { code field } } } }"""
ABORT = """mutation($id: ID!) { abortUpload(uploadId: $id) {
  __typename ... on UploadSession { id state }
  ... on OperationInfo { messages { code field } } } }"""
SESSION = """query($id: ID!) { node(id: $id) { ... on UploadSession {
  state partUrls(partNumbers: [2]) { partNumber size } uploadedParts { partNumber etag size }
  file { path } } } }"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_keys() -> list[str]:
    """Every object the configured storage holds for any tenant."""
    return sorted(key for key, _ in backend().iter_objects("tenants/"))


def stored_bytes(key: str) -> bytes:
    with backend().open(key) as stream:
        return stream.read()


def put_part(url: str, data: bytes) -> tuple[int, str | None]:
    """PUT a part as any client would: to S3 directly, or to our signed endpoint."""
    if url.startswith("http"):
        response = requests.put(url, data=data, timeout=30)
    else:
        response = Client().put(url, data=data, content_type="application/octet-stream")
    return response.status_code, response.headers.get("ETag")


def version_of(user, tenant):
    return ModelVersionFactory(model=RegisteredModelFactory(tenant=tenant, owner=user))


def start(gql, version, data: bytes, parts: int, path: str = "model.bin", **overrides):
    variables = {"v": to_base64("ModelVersion", version.pk), "path": path, "size": len(data),
                 "sha": sha256(data), "n": parts, **overrides}
    return gql(START, variables).data["startUpload"]


def send_parts(session: dict, data: bytes) -> list[dict]:
    sent, offset = [], 0
    for part in session["partUrls"]:
        status, etag = put_part(part["url"], data[offset:offset + part["size"]])
        assert status == 200
        sent.append({"partNumber": part["partNumber"], "etag": etag})
        offset += part["size"]
    return sent


def complete(gql, session: dict, parts: list[dict]) -> dict:
    return gql(COMPLETE, {"id": session["id"], "parts": parts}).data["completeUpload"]


# --- uploadFile ------------------------------------------------------------------------------

def test_upload_file_stores_content_addressed_bytes(storage_backend, gql, maintainer,
                                                    default_tenant, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # spooled to a temporary file, as big ones are
    version = version_of(maintainer, default_tenant)
    content = b"\x89ONNX" + bytes(range(256)) * 100

    result = gql.upload(UPLOAD, {"v": to_base64("ModelVersion", version.pk),
                                 "path": "weights/model.onnx", "f": None},
                        {"variables.f": ("model.onnx", content)})

    artifact = ArtifactFile.objects.get()
    assert result.data["uploadFile"] == {
        "__typename": "ArtifactFile", "id": to_base64("ArtifactFile", artifact.pk),
        "path": "weights/model.onnx", "size": len(content), "sha256": sha256(content),
        "scanStatus": "PENDING",
    }
    key = f"tenants/{default_tenant.pk}/blobs/{sha256(content)[:2]}/{sha256(content)}"
    assert artifact.blob.storage_key == key
    assert stored_keys() == [key]
    assert stored_bytes(key) == content


def test_a_spooled_upload_is_hashed_as_it_is_received_not_read_back(
        storage_backend, gql, maintainer, default_tenant, settings, monkeypatch):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    monkeypatch.setattr(staging, "HashingReader", None)  # reading the file back would fail
    version = version_of(maintainer, default_tenant)
    content = bytes(range(256)) * 4000

    result = gql.upload(UPLOAD, {"v": to_base64("ModelVersion", version.pk),
                                 "path": "model.bin", "f": None},
                        {"variables.f": ("model.bin", content)})

    assert (result.data["uploadFile"]["size"], result.data["uploadFile"]["sha256"]) == (
        len(content), sha256(content))
    assert stored_bytes(ArtifactFile.objects.get().blob.storage_key) == content


@pytest.mark.parametrize(("limit", "refused"), [(100, True), (101, False)])
def test_a_file_hashed_as_it_was_spooled_is_size_limited(settings, limit, refused):
    settings.REGISTRY_MAX_FILE_SIZE = limit
    handler = upload_handlers.TemporaryUploadHandler()
    handler.new_file("file", "model.bin", "application/octet-stream", 101)
    handler.receive_data_chunk(b"x" * 60, 0)
    handler.receive_data_chunk(b"y" * 41, 60)
    spooled = handler.file_complete(101)

    assert isinstance(spooled, upload_handlers.HashedTemporaryUploadedFile)
    assert (spooled.sha256, spooled.size) == (sha256(b"x" * 60 + b"y" * 41), 101)
    if refused:
        with pytest.raises(ValidationError) as error:
            staging.received_digest(spooled)
        assert error.value.error_dict["file"][0].code == "file_too_large"
    else:
        assert staging.received_digest(spooled) == (sha256(b"x" * 60 + b"y" * 41), 101)


def test_duplicate_content_is_stored_once(storage_backend, gql, maintainer, default_tenant):
    first, second = version_of(maintainer, default_tenant), version_of(maintainer,
                                                                        default_tenant)
    content = b"same weights" * 1000

    for version, path in ((first, "a.bin"), (first, "b.bin"), (second, "a.bin")):
        gql.upload(UPLOAD, {"v": to_base64("ModelVersion", version.pk), "path": path,
                            "f": None}, {"variables.f": ("x.bin", content)})

    blob = Blob.objects.get()
    assert (blob.files.count(), blob.size, blob.sha256) == (3, len(content), sha256(content))
    assert stored_keys() == [blob.storage_key]


def test_same_bytes_in_two_tenants_are_two_blobs(storage_backend, maintainer, default_tenant):
    other = TenantFactory()
    for tenant in (default_tenant, other):
        blobs.blob_store_stream(tenant=tenant, stream=io.BytesIO(b"shared"))

    assert sorted(Blob.objects.values_list("tenant_id", "storage_key")) == sorted(
        (tenant.pk, f"tenants/{tenant.pk}/blobs/{sha256(b'shared')[:2]}/{sha256(b'shared')}")
        for tenant in (default_tenant, other)
    )


@pytest.mark.parametrize("setup", ["duplicate_path", "quota_bytes", "too_large"])
def test_refused_upload_stores_nothing(storage_backend, gql, maintainer, default_tenant,
                                       settings, setup):
    version = version_of(maintainer, default_tenant)
    gql.upload(UPLOAD, {"v": to_base64("ModelVersion", version.pk), "path": "model.bin",
                        "f": None}, {"variables.f": ("m", b"first")})
    keys_before = stored_keys()
    path, code = {"duplicate_path": ("model.bin", "duplicate_path"),
                  "quota_bytes": ("other.bin", "quota_exceeded"),
                  "too_large": ("other.bin", "file_too_large")}[setup]
    default_tenant.quota_bytes = 10
    default_tenant.save()
    settings.REGISTRY_MAX_FILE_SIZE = 100 if setup == "too_large" else 10**9

    result = gql.upload(UPLOAD, {"v": to_base64("ModelVersion", version.pk), "path": path,
                                 "f": None}, {"variables.f": ("m", b"x" * 101)})

    assert result.data["uploadFile"]["messages"] == [
        {"code": code, "field": "path" if code == "duplicate_path" else "file"}]
    assert (ArtifactFile.objects.count(), Blob.objects.count()) == (1, 1)
    assert stored_keys() == keys_before


class BrokenStream(io.RawIOBase):
    """A client that goes away after sending some bytes."""

    def __init__(self, sent: int) -> None:
        self.sent = sent

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.sent <= 0:
            raise ConnectionResetError("client went away")
        chunk = b"x" * min(size, self.sent)
        self.sent -= len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0


def test_interrupted_upload_leaves_nothing(storage_backend, maintainer, default_tenant):
    version = version_of(maintainer, default_tenant)
    actor = actor_for(user=maintainer, tenant=default_tenant)

    with pytest.raises(ConnectionResetError):
        services.file_add(actor=actor, version=version, path="model.bin",
                          stream=BrokenStream(3 * keys.CHUNK_SIZE // 2),
                          declared_size=10 * keys.CHUNK_SIZE)

    assert (ArtifactFile.objects.count(), Blob.objects.count()) == (0, 0)
    assert stored_keys() == []


def test_failure_after_storing_removes_the_new_object(storage_backend, maintainer,
                                                      default_tenant):
    staged = blobs.stage_stream(tenant=default_tenant, stream=io.BytesIO(b"new bytes"))

    with pytest.raises(RuntimeError), blobs.blob_for(tenant=default_tenant,
                                                       staged=staged):
        raise RuntimeError("the file row could not be written")

    assert Blob.objects.count() == 0
    assert stored_keys() == []


def test_upload_of_same_bytes_repairs_a_blob_flagged_missing(storage_backend, maintainer,
                                                             default_tenant):
    blob = blobs.blob_store_stream(tenant=default_tenant, stream=io.BytesIO(b"weights"))
    backend().delete(blob.storage_key)
    assert blobs.blob_verify(blob) == "missing from storage"

    again = blobs.blob_store_stream(tenant=default_tenant, stream=io.BytesIO(b"weights"))

    blob.refresh_from_db()
    assert (again.pk, blob.integrity_error, stored_bytes(blob.storage_key)) == (
        blob.pk, "", b"weights")


# --- Resumable uploads -----------------------------------------------------------------------

def test_resumable_upload_round_trip(storage_backend, gql, maintainer, default_tenant):
    version = version_of(maintainer, default_tenant)
    data = bytes(range(256)) * (10 * MIB // 256) + b"tail" * 101

    session = start(gql, version, data, parts=2, path="weights/big.bin")
    parts = send_parts(session, data)
    result = complete(gql, session, parts)

    artifact = ArtifactFile.objects.get()
    assert session["partSize"] == 5 * MIB + 202
    assert [part["size"] for part in session["partUrls"]] == [5 * MIB + 202, 5 * MIB + 202]
    assert result == {"__typename": "ArtifactFile", "id": to_base64("ArtifactFile", artifact.pk),
                      "path": "weights/big.bin", "size": len(data), "sha256": sha256(data),
                      "scanStatus": "PENDING"}
    assert stored_keys() == [artifact.blob.storage_key]  # staging gone
    assert stored_bytes(artifact.blob.storage_key) == data
    assert UploadSession.objects.get().state == UploadState.COMPLETED
    # Completing again is harmless: the same file.
    assert complete(gql, session, parts) == result
    assert ArtifactFile.objects.count() == 1


def test_resumable_upload_resumes_after_an_interrupted_part(storage_backend, gql, maintainer,
                                                           default_tenant):
    version = version_of(maintainer, default_tenant)
    data = b"a" * (5 * MIB) + b"b" * (5 * MIB)
    session = start(gql, version, data, parts=2)
    first = send_parts({"partUrls": session["partUrls"][:1]}, data)

    state = gql(SESSION, {"id": session["id"]}).data["node"]
    assert state["state"] == "OPEN"
    assert state["partUrls"] == [{"partNumber": 2, "size": 5 * MIB}]
    assert state["uploadedParts"] == [{"partNumber": 1, "etag": first[0]["etag"].strip('"'),
                                       "size": 5 * MIB}]
    assert state["file"] is None

    second = send_parts({"partUrls": session["partUrls"][1:]}, data[5 * MIB:])
    assert complete(gql, session, first + second)["sha256"] == sha256(data)


@pytest.mark.parametrize("mistake", ["missing", "wrong_etag", "duplicated", "unknown"])
def test_wrong_or_missing_part_is_refused_and_can_be_fixed(storage_backend, gql, maintainer,
                                                           default_tenant, mistake):
    version = version_of(maintainer, default_tenant)
    data = b"p" * (5 * MIB) + b"q" * (5 * MIB)
    session = start(gql, version, data, parts=2)
    parts = send_parts(session, data)
    wrong = {"missing": parts[:1],
             "wrong_etag": [parts[0], {"partNumber": 2, "etag": '"0123456789abcdef"'}],
             "duplicated": [parts[0], parts[0], parts[1]],
             "unknown": [*parts, {"partNumber": 3, "etag": parts[1]["etag"]}]}[mistake]

    refused = complete(gql, session, wrong)

    assert refused == {"__typename": "OperationInfo",
                       "messages": [{"code": "invalid_part", "field": "parts"}]}
    assert ArtifactFile.objects.count() == 0
    assert UploadSession.objects.get().state == UploadState.OPEN
    assert complete(gql, session, parts)["sha256"] == sha256(data)


def test_sha256_mismatch_aborts_and_leaves_nothing(storage_backend, gql, maintainer,
                                                   default_tenant):
    version = version_of(maintainer, default_tenant)
    declared, sent = b"x" * (10 * MIB), b"y" * (10 * MIB)
    session = start(gql, version, declared, parts=2)

    result = complete(gql, session, send_parts(session, sent))

    assert result == {"__typename": "OperationInfo",
                      "messages": [{"code": "integrity_mismatch", "field": "sha256"}]}
    assert (ArtifactFile.objects.count(), Blob.objects.count()) == (0, 0)
    assert UploadSession.objects.get().state == UploadState.ABORTED
    assert stored_keys() == []
    assert complete(gql, session, [])["messages"] == [{"code": "upload_not_open",
                                                       "field": "uploadId"}]


def test_part_of_the_wrong_size_is_refused(storage_backend, gql, maintainer, default_tenant):
    version = version_of(maintainer, default_tenant)
    data = b"z" * (10 * MIB)
    session = start(gql, version, data, parts=2)
    first = send_parts({"partUrls": session["partUrls"][:1]}, data)

    status, etag = put_part(session["partUrls"][1]["url"], b"z" * 8)

    if storage_backend == "filesystem":  # refused as it arrives
        assert (status, etag) == (400, None)
        parts = [*first, {"partNumber": 2, "etag": "never-issued"}]
    else:  # S3 takes any size; the completion refuses it
        assert status == 200
        parts = [*first, {"partNumber": 2, "etag": etag}]
    assert complete(gql, session, parts)["messages"] == [{"code": "invalid_part",
                                                          "field": "parts"}]
    assert ArtifactFile.objects.count() == 0


def test_interrupted_part_is_not_recorded(filesystem_storage, maintainer, default_tenant, gql):
    version = version_of(maintainer, default_tenant)
    data = b"i" * 100
    session = start(gql, version, data, parts=1)
    token = session["partUrls"][0]["url"].rsplit("/", 1)[1]

    # The connection drops after 40 of the 100 bytes announced.
    with pytest.raises(ValidationError) as refused:
        transfer.upload_part_put(token=token, stream=io.BytesIO(data[:40]), length=100)

    assert refused.value.message_dict == {"body": ["Part 1 ended 60 bytes early."]}
    assert gql(SESSION, {"id": session["id"]}).data["node"]["uploadedParts"] == []
    assert complete(gql, session, [{"partNumber": 1, "etag": "x"}])["messages"] == [
        {"code": "invalid_part", "field": "parts"}]


def staging_folder():
    return backend().path(UploadSession.objects.get().staging_key)


def test_parts_sent_in_any_order_are_hashed_once_at_completion(filesystem_storage, gql,
                                                               maintainer, default_tenant,
                                                               monkeypatch):
    version = version_of(maintainer, default_tenant)
    data = bytes(range(256)) * (15 * MIB // 256) + b"end"
    session = start(gql, version, data, parts=3)
    urls, size = session["partUrls"], session["partSize"]
    chunks = [data[:size], data[size:2 * size], data[2 * size:]]
    third = send_parts({"partUrls": urls[2:]}, chunks[2])
    first = send_parts({"partUrls": urls[:1]}, chunks[0])
    second = send_parts({"partUrls": urls[1:2]}, chunks[1])
    hashed = []
    reader = filesystem.HashingReader

    def spy(stream, limit=None):
        hashed.append(reader(stream, limit))
        return hashed[-1]

    monkeypatch.setattr(filesystem, "HashingReader", spy)
    result = complete(gql, session, first + second + third)

    assert result["sha256"] == sha256(data)
    assert [(one.size, one.sha256) for one in hashed] == [(len(data), sha256(data))]
    assert stored_bytes(ArtifactFile.objects.get().blob.storage_key) == data


def test_a_part_cut_short_can_be_sent_again(filesystem_storage, gql, maintainer,
                                            default_tenant):
    version = version_of(maintainer, default_tenant)
    data = b"h" * (5 * MIB) + b"k" * (5 * MIB)
    session = start(gql, version, data, parts=2)
    first = send_parts({"partUrls": session["partUrls"][:1]}, data[:5 * MIB])
    token = session["partUrls"][1]["url"].rsplit("/", 1)[1]

    with pytest.raises(ValidationError) as refused:
        transfer.upload_part_put(token=token, stream=io.BytesIO(b"x" * MIB), length=5 * MIB)

    assert refused.value.message_dict == {"body": [f"Part 2 ended {4 * MIB} bytes early."]}
    second = send_parts({"partUrls": session["partUrls"][1:]}, data[5 * MIB:])
    assert complete(gql, session, first + second)["sha256"] == sha256(data)
    assert stored_bytes(ArtifactFile.objects.get().blob.storage_key) == data


def test_a_part_sent_again_replaces_its_bytes(filesystem_storage, gql, maintainer,
                                              default_tenant):
    version = version_of(maintainer, default_tenant)
    data = b"r" * (5 * MIB) + b"s" * (5 * MIB)
    session = start(gql, version, data, parts=2)
    wrong_first = send_parts(session, b"w" * (5 * MIB) + b"s" * (5 * MIB))

    fixed = send_parts({"partUrls": session["partUrls"][:1]}, data[:5 * MIB])
    assert complete(gql, session, wrong_first) == {  # the first ETag went with its bytes
        "__typename": "OperationInfo", "messages": [{"code": "invalid_part", "field": "parts"}]}
    result = complete(gql, session, fixed + wrong_first[1:])

    assert result["sha256"] == sha256(data)
    assert stored_bytes(ArtifactFile.objects.get().blob.storage_key) == data


def test_data_lost_on_disk_fails_the_completion(filesystem_storage, gql, maintainer,
                                                default_tenant):
    version = version_of(maintainer, default_tenant)
    data = b"d" * (5 * MIB) + b"e" * (5 * MIB)
    session = start(gql, version, data, parts=2)
    second = send_parts({"partUrls": session["partUrls"][1:]}, data[5 * MIB:])
    (staging_folder() / "data").write_bytes(b"")  # the disk lost what part 2 wrote
    first = send_parts({"partUrls": session["partUrls"][:1]}, data[:5 * MIB])

    assert complete(gql, session, first + second) == {
        "__typename": "OperationInfo",
        "messages": [{"code": "integrity_mismatch", "field": "sha256"}]}
    assert (ArtifactFile.objects.count(), UploadSession.objects.get().state) == (
        0, UploadState.ABORTED)


def test_a_part_another_request_is_writing_is_refused(filesystem_storage, gql, maintainer,
                                                      default_tenant):
    version = version_of(maintainer, default_tenant)
    data = b"c" * 100
    session = start(gql, version, data, parts=1)
    url = session["partUrls"][0]["url"]

    with open(staging_folder() / "lock-00001", "w") as held:  # another request's part lock
        fcntl.flock(held, fcntl.LOCK_EX)
        response = Client().put(url, data=data, content_type="application/octet-stream")

    assert (response.status_code, response.json()) == (400, {
        "code": "invalid_part", "field": "body",
        "message": "Part 1 is being received by another request; send it again when that "
                   "one ends."})
    assert gql(SESSION, {"id": session["id"]}).data["node"]["uploadedParts"] == []
    assert complete(gql, session, send_parts(session, data))["sha256"] == sha256(data)


def test_abort_drops_the_parts(storage_backend, gql, maintainer, default_tenant):
    version = version_of(maintainer, default_tenant)
    data = b"a" * 1000
    session = start(gql, version, data, parts=1)
    parts = send_parts(session, data)

    aborted = gql(ABORT, {"id": session["id"]}).data["abortUpload"]
    again = gql(ABORT, {"id": session["id"]}).data["abortUpload"]

    assert aborted == again == {"__typename": "UploadSession", "id": session["id"],
                                "state": "ABORTED"}
    assert stored_keys() == []
    assert complete(gql, session, parts)["messages"] == [{"code": "upload_not_open",
                                                          "field": "uploadId"}]
    # Our endpoint answers 404 like S3's NoSuchUpload; moto answers that with a 500.
    assert put_part(session["partUrls"][0]["url"], data)[0] == (
        404 if storage_backend == "filesystem" else 500)


@pytest.mark.parametrize(("overrides", "code", "field"), [
    ({"path": "../escape.bin"}, "invalid_path", "path"),
    ({"path": "/etc/passwd"}, "invalid_path", "path"),
    ({"path": "a/./b"}, "invalid_path", "path"),
    ({"sha": "ABC"}, "invalid_upload", "sha256"),
    ({"size": 0}, "invalid_upload", "size"),
    ({"n": 0}, "invalid_upload", "partCount"),
    ({"n": 10_001}, "invalid_upload", "partCount"),
    ({"n": 3}, "invalid_upload", "partCount"),  # parts under 5 MiB
    ({"size": 11 * 2**40}, "file_too_large", "file"),
])
def test_start_refuses_bad_input(storage_backend, gql, maintainer, default_tenant, overrides,
                                 code, field):
    version = version_of(maintainer, default_tenant)

    result = start(gql, version, b"x" * 100, parts=1, **overrides)

    assert result == {"__typename": "OperationInfo", "messages": [{"code": code,
                                                                   "field": field}]}
    assert UploadSession.objects.count() == 0
    assert stored_keys() == []


def test_open_uploads_hold_quota(storage_backend, gql, maintainer, default_tenant):
    version = version_of(maintainer, default_tenant)
    default_tenant.quota_bytes = 1500
    default_tenant.save()
    data = b"q" * 1000

    first = start(gql, version, data, parts=1, path="one.bin")
    second = start(gql, version, data, parts=1, path="two.bin")

    assert first["state"] == "OPEN"
    assert second["messages"] == [{"code": "quota_exceeded", "field": "file"}]
    # The first still completes: its own reservation does not count against it.
    assert complete(gql, first, send_parts(first, data))["size"] == 1000


def test_expired_upload_is_refused_and_cleaned(storage_backend, gql, maintainer,
                                               default_tenant, settings, request):
    version = version_of(maintainer, default_tenant)
    data = b"e" * 1000
    with time_machine.travel(timezone.now(), tick=False):  # URLs live exactly the TTL
        session = start(gql, version, data, parts=1)
    url = session["partUrls"][0]["url"]
    parts = send_parts(session, data)

    with time_machine.travel(timezone.now() + timedelta(
            seconds=settings.UPLOAD_SESSION_TTL_SECONDS + 1)):
        late_put = put_part(url, data)[0]
        late_complete = complete(gql, session, parts)
        jobs = abort_stale_uploads_task.delay().get()

    assert late_complete["messages"] == [{"code": "upload_not_open", "field": "uploadId"}]
    assert jobs == {"sessions_aborted": 1, "storage_uploads_aborted": 0,
                    "staging_objects_deleted": 0}
    assert UploadSession.objects.get().state == UploadState.ABORTED
    assert stored_keys() == []
    if storage_backend == "filesystem":
        assert late_put == 403  # the signed URL expires with the session
    else:
        # moto does not enforce presigned expiry (S3 answers 403): the URL carries it, and
        # once the job aborted the multipart upload no part can land (moto: a 500).
        assert f"X-Amz-Expires={settings.UPLOAD_SESSION_TTL_SECONDS}" in url
        bucket = request.getfixturevalue("s3_storage")
        moto = request.getfixturevalue("moto_s3")
        assert moto.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
        assert late_put == 200  # before the job ran
        assert put_part(url, data)[0] == 500


def test_forged_or_foreign_part_urls_are_refused(filesystem_storage, gql, maintainer,
                                                 default_tenant):
    version = version_of(maintainer, default_tenant)
    session = start(gql, version, b"f" * 10, parts=1)
    url = session["partUrls"][0]["url"]
    session_pk = UploadSession.objects.get().pk

    forged = url.rsplit("/", 1)[0] + "/" + signing.dumps(
        [session_pk, 1], salt="another.salt", compress=False)
    tampered = url.replace(url[-5:], "AAAAA")

    for bad in (forged, tampered):
        response = Client().put(bad, data=b"f" * 10, content_type="application/octet-stream")
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert gql(SESSION, {"id": session["id"]}).data["node"]["uploadedParts"] == []


def test_another_users_upload_is_not_found(storage_backend, gql, gql_as, maintainer,
                                           member_factory, default_tenant):
    version = version_of(maintainer, default_tenant)
    data = b"o" * 100
    session = start(gql, version, data, parts=1)
    parts = send_parts(session, data)
    colleague = member_factory(Role.ADMIN)
    stranger = member_factory(Role.ADMIN, tenant=TenantFactory())

    for other in (gql_as(colleague), gql_as(stranger), gql_as(None)):
        assert other(SESSION, {"id": session["id"]}).data["node"] is None
        assert complete(other, session, parts)["messages"] == [{"code": "not_found",
                                                                "field": "uploadId"}]
        assert other(ABORT, {"id": session["id"]}).data["abortUpload"]["messages"] == [
            {"code": "not_found", "field": "uploadId"}]

    assert UploadSession.objects.get().state == UploadState.OPEN
    assert ArtifactFile.objects.count() == 0


def test_version_of_another_tenant_cannot_receive_uploads(storage_backend, gql, maintainer,
                                                          default_tenant):
    foreign = version_of(maintainer, TenantFactory())

    result = start(gql, foreign, b"x" * 10, parts=1)

    assert result["messages"] == [{"code": "not_found", "field": "versionId"}]
    assert UploadSession.objects.count() == 0


def test_completed_upload_goes_through_the_file_path(storage_backend, gql, maintainer,
                                                     default_tenant):
    """Same rules as uploadFile at completion: a path taken meanwhile is refused."""
    version = version_of(maintainer, default_tenant)
    data = b"c" * 10
    session = start(gql, version, data, parts=1, path="model.bin")
    parts = send_parts(session, data)
    gql.upload(UPLOAD, {"v": to_base64("ModelVersion", version.pk), "path": "model.bin",
                        "f": None}, {"variables.f": ("m", b"other")})

    result = complete(gql, session, parts)

    assert result["messages"] == [{"code": "duplicate_path", "field": "path"}]
    assert list(ArtifactFile.objects.values_list("sha256", flat=True)) == [sha256(b"other")]
    assert UploadSession.objects.get().state == UploadState.ABORTED
    assert stored_keys() == [ArtifactFile.objects.get().blob.storage_key]


def test_completion_sends_file_created_and_starts_quarantined(storage_backend, gql,
                                                              maintainer, default_tenant):
    from registry.signals import file_created

    received = []
    file_created.connect(lambda sender, file, **kw: received.append(file.path),
                         dispatch_uid="test-upload", weak=False)
    try:
        version = version_of(maintainer, default_tenant)
        session = start(gql, version, b"s" * 10, parts=1, path="signalled.bin")
        complete(gql, session, send_parts(session, b"s" * 10))
    finally:
        file_created.disconnect(dispatch_uid="test-upload")

    assert received == ["signalled.bin"]
    assert ArtifactFile.objects.get().scan_status == ScanStatus.PENDING


def test_stale_job_aborts_storage_left_by_a_crash(s3_storage, moto_s3, settings,
                                                  default_tenant):
    """A multipart upload no session accounts for (the row's transaction failed)."""
    moto_s3.client.create_multipart_upload(Bucket=s3_storage,
                                           Key=keys.staging_key(default_tenant))

    with time_machine.travel(timezone.now() + timedelta(
            seconds=settings.UPLOAD_SESSION_TTL_SECONDS + 1)):
        result = transfer.upload_sessions_expire()

    assert result["storage_uploads_aborted"] == 1
    assert moto_s3.client.list_multipart_uploads(Bucket=s3_storage).get("Uploads", []) == []


def test_part_urls_name_the_endpoint_clients_reach(s3_storage, moto_s3, settings, gql,
                                                   maintainer, default_tenant):
    settings.AWS_S3_PUBLIC_ENDPOINT_URL = moto_s3.endpoint_url.replace("127.0.0.1",
                                                                       "localhost")
    version = version_of(maintainer, default_tenant)
    session = start(gql, version, b"p" * 10, parts=1)

    assert session["partUrls"][0]["url"].startswith(f"{settings.AWS_S3_PUBLIC_ENDPOINT_URL}/")
    assert complete(gql, session, send_parts(session, b"p" * 10))["size"] == 10


def test_session_shows_its_file_only_while_the_file_is_visible(storage_backend, gql, maintainer,
                                                               member_factory, default_tenant):
    owner = member_factory(Role.MAINTAINER)
    model = RegisteredModelFactory(tenant=default_tenant, owner=owner, visibility="private")
    version = ModelVersionFactory(model=model)
    owner_actor = actor_for(user=owner, tenant=default_tenant)
    services.catalog_entry_share(entry_class=RegisteredModel, actor=owner_actor,
                                 entry_id=model.pk, level="change", user_ids=[maintainer.pk])
    session = start(gql, version, b"s" * 10, parts=1)
    complete(gql, session, send_parts(session, b"s" * 10))
    shown = gql(SESSION, {"id": session["id"]}).data["node"]["file"]

    services.catalog_entry_unshare(entry_class=RegisteredModel, actor=owner_actor,
                                   entry_id=model.pk, level="view", user_ids=[maintainer.pk])

    assert shown == {"path": "model.bin"}
    assert gql(SESSION, {"id": session["id"]}).data["node"]["file"] is None
