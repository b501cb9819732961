"""Downloads on both backends: files (Range, ETag, HEAD, S3 redirect), archives, counting."""

import io
import tarfile
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from registry.models import ScanStatus, Visibility
from registry.urls_public import archive_url, file_download_url
from scanning.models import ScanReport, ScanTrigger
from scanning.scanners import Verdict
from tests.conftest import graphql_client_for
from tests.factories import (
    DatasetVersionFactory,
    ModelVersionFactory,
    RegisteredModelFactory,
    TenantFactory,
    artifact_file,
)
from usage.models import DailyUsage

CONTENT = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def owner(member_factory):
    return member_factory(Role.MAINTAINER)


@pytest.fixture
def client(owner) -> Client:
    return graphql_client_for(owner).client


@pytest.fixture
def stored(owner, default_tenant):
    version = ModelVersionFactory(model=RegisteredModelFactory(
        tenant=default_tenant, owner=owner, name="detector", visibility=Visibility.PRIVATE),
        version="1.2.0")
    return artifact_file(version, path="weights/model.onnx", content=CONTENT)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def follow(response, **headers) -> requests.Response:
    """What a client does with the S3 redirect: GET the presigned URL itself."""
    assert response.status_code == 302
    return requests.get(response["Location"], headers=headers, timeout=30)


def test_download_whole_file(storage_backend, client, stored):
    response = client.get(file_download_url(stored))

    if storage_backend == "s3":
        fetched = follow(response)
        assert (fetched.status_code, fetched.content) == (200, CONTENT)
        assert fetched.headers["Content-Disposition"] == 'attachment; filename="model.onnx"'
        assert response["Cache-Control"] == "private, no-store"
        return
    assert response.status_code == 200
    assert body(response) == CONTENT
    assert {name: response[name] for name in ("Content-Length", "Content-Type", "ETag",
                                             "Content-Disposition", "Accept-Ranges")} == {
        "Content-Length": str(len(CONTENT)), "Content-Type": "application/octet-stream",
        "ETag": f'"{stored.sha256}"', "Content-Disposition": 'attachment; filename="model.onnx"',
        "Accept-Ranges": "bytes",
    }


def test_s3_redirect_is_short_lived_and_named(s3_storage, client, stored, settings):
    response = client.get(file_download_url(stored))

    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["X-Amz-Expires"] == [str(settings.DOWNLOAD_URL_TTL_SECONDS)]
    assert query["response-content-disposition"] == ['attachment; filename="model.onnx"']
    assert urlsplit(response["Location"]).path.endswith(stored.blob.storage_key)


@pytest.mark.parametrize(("header", "status", "content_range", "expected"), [
    ("bytes=0-99", 206, "bytes 0-99/10240", CONTENT[:100]),
    ("bytes=10000-", 206, "bytes 10000-10239/10240", CONTENT[10000:]),
    ("bytes=-16", 206, "bytes 10224-10239/10240", CONTENT[-16:]),
    ("bytes=10200-99999", 206, "bytes 10200-10239/10240", CONTENT[10200:]),
    ("bytes=0-1,5-6", 200, None, CONTENT),  # several ranges: the whole file
])
def test_range_requests(storage_backend, client, stored, header, status, content_range,
                        expected):
    response = client.get(file_download_url(stored), headers={"Range": header})

    if storage_backend == "s3":  # S3 answers the Range after the redirect
        response = follow(response, Range=header)
        assert (response.status_code, response.content) == (status, expected)
        assert response.headers.get("Content-Range") == content_range
        return
    assert (response.status_code, body(response)) == (status, expected)
    assert response.get("Content-Range") == content_range
    assert response["Content-Length"] == str(len(expected))


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-30000", "bytes=-0",
                                    "bytes=9-3"])
def test_unsatisfiable_range_is_416(storage_backend, client, stored, header):
    response = client.get(file_download_url(stored), headers={"Range": header})

    assert (response.status_code, response["Content-Range"]) == (416, "bytes */10240")


@pytest.mark.parametrize("headers", [{"Range": "bytes=0-9", "If-Range": '"other"'},
                                     {"Range": "items=0-9"}])
def test_range_we_cannot_honour_sends_the_whole_file(filesystem_storage, client, stored,
                                                     headers):
    response = client.get(file_download_url(stored), headers=headers)

    assert (response.status_code, body(response)) == (200, CONTENT)


@pytest.mark.parametrize("header", ["sha", "W/sha", "*", '"nope", sha'])
def test_if_none_match_is_304(storage_backend, client, stored, header):
    etag = f'"{stored.sha256}"'
    header = header.replace("sha", etag)

    response = client.get(file_download_url(stored), headers={"If-None-Match": header})

    assert (response.status_code, response["ETag"], response.content) == (304, etag, b"")


def test_head_gives_the_headers_only(storage_backend, client, stored):
    response = client.head(file_download_url(stored))

    assert (response.status_code, response.content) == (200, b"")
    assert (response["Content-Length"], response["ETag"]) == (str(len(CONTENT)),
                                                              f'"{stored.sha256}"')


def test_downloads_are_counted_per_day(storage_backend, client, stored):
    url = file_download_url(stored)
    client.get(url)
    client.get(url, headers={"Range": "bytes=0-9"})  # a resumed download counts once...
    client.get(url, headers={"Range": "bytes=10-19"})  # ...its continuation does not
    client.head(url)
    client.get(url, headers={"If-None-Match": f'"{stored.sha256}"'})

    stored.refresh_from_db()
    assert list(DailyUsage.objects.values_list("file_id", "day", "pulls")) == [
        (stored.pk, timezone.now().date(), 2)]
    assert timezone.now() - stored.last_downloaded_at < timedelta(minutes=1)


@pytest.mark.parametrize("who", ["anonymous", "viewer_private", "other_tenant_admin",
                                 "quarantined", "missing", "corrupt"])
def test_not_visible_missing_and_quarantined_look_the_same(storage_backend, stored,
                                                           member_factory, who):
    user = {"anonymous": None, "viewer_private": member_factory(Role.VIEWER),
            "other_tenant_admin": member_factory(Role.ADMIN, tenant=TenantFactory())}.get(
        who, stored.model_version.model.owner)
    client = graphql_client_for(user).client
    url = file_download_url(stored)
    if who == "quarantined":
        stored.scan_status = ScanStatus.PENDING
        stored.save()
    elif who == "missing":
        url = url.replace(f"/{stored.pk}/", f"/{stored.pk + 1000}/")
    elif who == "corrupt":
        stored.blob.integrity_error = "missing from storage"
        stored.blob.save()
    nonexistent = client.get(file_download_url(stored).replace(f"/{stored.pk}/", "/999999/"))

    response = client.get(url)

    assert (response.status_code, response.content) == (404, nonexistent.content)
    assert DailyUsage.objects.filter(pulls__gt=0).count() == 0


def test_flagged_file_downloads_only_under_warn_policy(storage_backend, client, stored,
                                                       default_tenant):
    stored.scan_status = ScanStatus.FLAGGED
    stored.save()
    # A scan that read the whole file (no error) and flagged it: `warn` accepts that one only.
    ScanReport.objects.create(file=stored, trigger=ScanTrigger.UPLOAD, scanner_version="test",
                              verdict=Verdict.FLAGGED, started_at=timezone.now(),
                              finished_at=timezone.now())
    blocked = client.get(file_download_url(stored)).status_code
    default_tenant.scan_policy = "warn"
    default_tenant.save()

    allowed = client.get(file_download_url(stored)).status_code

    assert (blocked, allowed) == (404, 302 if storage_backend == "s3" else 200)


def test_archive_streams_the_version_as_laid_out(storage_backend, client, stored):
    version = stored.model_version
    artifact_file(version, path="config.json", content=b'{"classes": 80}')
    artifact_file(version, path="labels/" + "long-name-" * 12 + ".txt", content=b"person\n")

    response = client.get(archive_url(version))

    payload = body(response)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(payload))
    assert response["Content-Disposition"] == 'attachment; filename="detector-1.2.0.tar"'
    with tarfile.open(fileobj=io.BytesIO(payload)) as archive:
        contents = {member.name: archive.extractfile(member).read()
                    for member in archive.getmembers()}
    assert contents == {
        "detector-1.2.0/config.json": b'{"classes": 80}',
        "detector-1.2.0/labels/" + "long-name-" * 12 + ".txt": b"person\n",
        "detector-1.2.0/weights/model.onnx": CONTENT,
    }
    assert DailyUsage.objects.filter(pulls__gt=0).count() == 3


def test_archive_of_dataset_version(storage_backend, owner, default_tenant):
    version = DatasetVersionFactory(dataset__tenant=default_tenant, dataset__owner=owner,
                                    dataset__name="coco", version="2017.0.0")
    artifact_file(version, path="train.zip", content=b"PK...")

    response = graphql_client_for(owner).client.get(archive_url(version))

    with tarfile.open(fileobj=io.BytesIO(body(response))) as archive:
        assert archive.getnames() == ["coco-2017.0.0/train.zip"]


@pytest.mark.parametrize("who", ["viewer_private", "quarantined_file", "other_kind"])
def test_archive_refused_alike(storage_backend, stored, member_factory, owner, who):
    client = graphql_client_for(member_factory(Role.VIEWER) if who == "viewer_private"
                                else owner).client
    url = archive_url(stored.model_version)
    if who == "quarantined_file":
        artifact_file(stored.model_version, path="pending.bin",
                      scan_status=ScanStatus.PENDING)
    elif who == "other_kind":
        url = url.replace("/model/", "/dataset/")

    response = client.get(url)

    assert (response.status_code, DailyUsage.objects.filter(pulls__gt=0).count()) == (404, 0)


def test_redirect_names_the_endpoint_clients_reach(s3_storage, moto_s3, client, stored,
                                                   settings):
    """The server may reach S3 under a private name (http://minio:9000 in docker-compose)."""
    settings.AWS_S3_PUBLIC_ENDPOINT_URL = moto_s3.endpoint_url.replace("127.0.0.1",
                                                                       "localhost")

    response = client.get(file_download_url(stored))

    assert response["Location"].startswith(f"{settings.AWS_S3_PUBLIC_ENDPOINT_URL}/")
    assert follow(response).content == CONTENT
