"""Storage for the tests: S3 through a real S3 HTTP endpoint (moto's server on 127.0.0.1, one
bucket per test) or the filesystem (a folder per test). Registered in tests/conftest.py."""

import uuid

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class MotoS3:
    """moto's S3 server in a thread, listening on a free loopback port."""

    def __init__(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self.client = boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION,
                                   **CREDENTIALS)

    def bucket_create(self) -> str:
        bucket = f"registry-test-{uuid.uuid4().hex[:16]}"
        self.client.create_bucket(Bucket=bucket)
        return bucket

    def bucket_drop(self, bucket: str) -> None:
        """Everything in it, then the bucket: moto keeps objects in memory."""
        for upload in self.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            self.client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"],
                                               UploadId=upload["UploadId"])
        for key in self.keys(bucket):
            self.client.delete_object(Bucket=bucket, Key=key)
        self.client.delete_bucket(Bucket=bucket)

    def keys(self, bucket: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(entry["Key"] for page in pages for entry in page.get("Contents", []))

    def storage_settings(self, bucket: str) -> dict:
        """STORAGES["default"] for `bucket`, as config/settings.py builds it for S3."""
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": self.endpoint_url,
                "region_name": REGION,
                "access_key": CREDENTIALS["aws_access_key_id"],
                "secret_key": CREDENTIALS["aws_secret_access_key"],
                "addressing_style": "path",
                "signature_version": "s3v4",
                "querystring_expire": 300,
                "default_acl": None,
                "file_overwrite": True,
            },
        }

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="session")
def moto_s3():
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture
def s3_storage(settings, moto_s3):
    """The default storage is S3: a fresh bucket of the moto server. Yields its name."""
    bucket = moto_s3.bucket_create()
    settings.STORAGES = {**settings.STORAGES, "default": moto_s3.storage_settings(bucket)}
    settings.USE_S3 = True
    settings.STORAGE_BACKEND_NAME = "s3"
    yield bucket
    moto_s3.bucket_drop(bucket)


@pytest.fixture
def filesystem_storage(settings, tmp_path):
    """The default storage is a folder of this test's own. Yields its path."""
    location = tmp_path / "media"
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(location)},
    }}
    settings.USE_S3 = False
    settings.STORAGE_BACKEND_NAME = "filesystem"
    return location


@pytest.fixture(params=["filesystem", "s3"])
def storage_backend(request) -> str:
    """Runs the test on each backend; the name of the one in use."""
    request.getfixturevalue(f"{request.param}_storage")
    return request.param
