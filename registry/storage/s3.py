"""The S3 backend: objects in django-storages' S3Storage bucket, through its boto3 client
(which does the multipart, copy and presigning work), and a seekable reader over an object."""

import functools
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from django.conf import settings
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

from accounts.models import Tenant
from registry.models import ACTIVE_UPLOAD_STATES, UploadSession
from registry.storage.keys import MAX_PART_SIZE, part_length, seconds_left
from registry.storage.staging import (
    HashingReader,
    PartsRejected,
    ReceivedPart,
    Staged,
    received_digest,
)

# Parts in flight per S3 upload; read from their file as they are sent.
S3_TRANSFER = TransferConfig(multipart_threshold=64 * 2**20, multipart_chunksize=64 * 2**20,
                             max_concurrency=4)
# Server-side copies: one CopyObject up to S3's 5 GiB limit (fewer requests; emulators such as
# moto re-read the whole source for every UploadPartCopy), parallel parts beyond it.
S3_COPY = TransferConfig(multipart_threshold=MAX_PART_SIZE, multipart_chunksize=512 * 2**20,
                         max_concurrency=4)


class S3ObjectReader(io.RawIOBase):
    """A seekable, read-only S3 object: one streamed GET from the current position, opened
    again with a Range after a seek, so scanners can jump around a multi-GB checkpoint and
    sequential readers fetch each byte once."""

    def __init__(self, client, bucket: str, key: str) -> None:
        super().__init__()
        self.client, self.bucket, self.key = client, bucket, key
        try:
            self.size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
                raise FileNotFoundError(key) from error
            raise
        self.position = 0
        self.body = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        position = max(0, base + offset)
        if position != self.position:
            self._close_body()
            self.position = position
        return position

    def read(self, size: int = -1) -> bytes:
        if self.position >= self.size:
            return b""
        if self.body is None:
            self.body = self.client.get_object(Bucket=self.bucket, Key=self.key,
                                               Range=f"bytes={self.position}-")["Body"]
        data = self.body.read(size if size is not None and size >= 0 else None)
        self.position += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def _close_body(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None

    def close(self) -> None:
        self._close_body()
        super().close()


@functools.lru_cache(maxsize=8)
def _presigning_client(storage: S3Storage, endpoint_url: str):
    """A client like the storage's own, for another endpoint: the same credentials, from the
    storage's settings (a profile takes precedence, as in django-storages)."""
    session = (boto3.Session(profile_name=storage.session_profile) if storage.session_profile
               else boto3.Session(aws_access_key_id=storage.access_key,
                                  aws_secret_access_key=storage.secret_key,
                                  aws_session_token=storage.security_token))
    return session.client("s3", region_name=storage.region_name, use_ssl=storage.use_ssl,
                          endpoint_url=endpoint_url, config=storage.client_config,
                          verify=storage.verify)


class S3Backend:
    """Objects in the S3Storage's bucket, through its boto3 client."""

    name = "s3"

    def __init__(self, storage: S3Storage) -> None:
        self.storage = storage
        self.client = storage.connection.meta.client
        self.bucket = storage.bucket_name
        # URLs that clients follow are signed for the endpoint they reach, when the server
        # reaches S3 under another name (http://minio:9000 inside docker-compose).
        public = settings.AWS_S3_PUBLIC_ENDPOINT_URL
        self.presigner = _presigning_client(storage, public) if public else self.client

    def _object_parameters(self, key: str) -> dict:
        return self.storage.get_object_parameters(key)  # e.g. server-side encryption

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
                return False
            raise
        return True

    def open(self, key: str) -> BinaryIO:
        return S3ObjectReader(self.client, self.bucket, key)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def iter_objects(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                           Prefix=prefix):
            for entry in page.get("Contents", []):
                yield entry["Key"], entry["LastModified"]

    def download_url(self, key: str, filename: str, content_type: str) -> str | None:
        return self.presigner.generate_presigned_url("get_object", Params={
            "Bucket": self.bucket, "Key": key,
            "ResponseContentDisposition": content_disposition_header(True, filename),
            "ResponseContentType": content_type,
        }, ExpiresIn=settings.DOWNLOAD_URL_TTL_SECONDS)

    def _copy(self, source_key: str, key: str) -> None:
        # Server side, in parallel parts when large: no byte passes through this process.
        self.client.copy({"Bucket": self.bucket, "Key": source_key}, self.bucket, key,
                         ExtraArgs=self._object_parameters(key), Config=S3_COPY)

    def _upload(self, stream: BinaryIO, key: str) -> None:
        arguments = {"ExtraArgs": self._object_parameters(key), "Config": S3_TRANSFER}
        temporary_path = getattr(stream, "temporary_file_path", None)
        if temporary_path:
            # By name, s3transfer reads each part from the file as it sends it; a file object
            # would be read a whole part at a time into memory, per part in flight.
            self.client.upload_file(temporary_path(), self.bucket, key, **arguments)
        else:  # small uploads, in memory already
            stream.seek(0)
            self.client.upload_fileobj(stream, self.bucket, key, **arguments)

    def stage_stream(self, tenant: Tenant, stream: BinaryIO) -> Staged:
        """The digest comes first (`received_digest`), so the bytes go to S3 once, straight
        under their blob key, and not at all when the tenant already has them."""
        sha256, size = received_digest(stream)
        return Staged(sha256=sha256, size=size, put=lambda key: self._upload(stream, key))

    def multipart_start(self, session: UploadSession) -> str:
        return self.client.create_multipart_upload(
            Bucket=self.bucket, Key=session.staging_key,
            **self._object_parameters(session.staging_key),
        )["UploadId"]

    def part_urls(self, session: UploadSession, numbers: Iterable[int]) -> list[str]:
        expires = seconds_left(session)
        return [self.presigner.generate_presigned_url("upload_part", Params={
            "Bucket": self.bucket, "Key": session.staging_key,
            "UploadId": session.s3_upload_id, "PartNumber": number,
        }, ExpiresIn=expires) for number in numbers]

    def parts_received(self, session: UploadSession) -> list[ReceivedPart]:
        parts = []
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=session.staging_key, UploadId=session.s3_upload_id
        )
        for page in pages:
            parts.extend(ReceivedPart(part["PartNumber"], part["ETag"].strip('"'), part["Size"])
                         for part in page.get("Parts", []))
        return parts

    def multipart_finish(self, session: UploadSession, parts: dict[int, str]) -> Staged:
        try:
            received = {part.number: part for part in self.parts_received(session)}
        except ClientError as error:
            # Completed by an earlier call that failed later on: its object is still there.
            if (error.response["Error"]["Code"] != "NoSuchUpload"
                    or not self.exists(session.staging_key)):
                raise PartsRejected("The upload's parts are gone.") from error
        else:
            for number, etag in sorted(parts.items()):
                part = received.get(number)
                if part is None or part.etag != etag:
                    raise PartsRejected(f"Part {number} with ETag {etag!r} was not received.")
                if part.size != part_length(session, number):
                    raise PartsRejected(f"Part {number} has {part.size} bytes, expected "
                                        f"{part_length(session, number)}.")
            try:
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=session.staging_key,
                    UploadId=session.s3_upload_id,
                    MultipartUpload={"Parts": [{"PartNumber": number, "ETag": received[number]
                                                .etag} for number in sorted(parts)]},
                )
            except ClientError as error:
                raise PartsRejected(error.response["Error"].get("Message", "")) from error
        with self.open(session.staging_key) as assembled:
            reader = HashingReader(assembled, limit=session.size).drain()
        return Staged(sha256=reader.sha256, size=reader.size,
                      put=lambda key: self._copy(session.staging_key, key),
                      discard=lambda: self.delete(session.staging_key))

    def multipart_abort(self, session: UploadSession) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=session.staging_key,
                                               UploadId=session.s3_upload_id)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchUpload":
                raise
        self.delete(session.staging_key)  # assembled by a completion that failed later

    def dangling_uploads_abort(self, older_than: datetime) -> int:
        """Aborts multipart uploads under our prefix that no active session accounts for."""
        stale = []
        for page in self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix="tenants/"):
            stale.extend((upload["Key"], upload["UploadId"]) for upload in page.get("Uploads", [])
                         if upload["Initiated"] < older_than)
        active = set(UploadSession.objects.filter(
            s3_upload_id__in=[upload_id for _, upload_id in stale],
            state__in=ACTIVE_UPLOAD_STATES,
        ).values_list("s3_upload_id", flat=True))
        aborted = 0
        for key, upload_id in stale:
            if upload_id not in active:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key,
                                                   UploadId=upload_id)
                aborted += 1
        return aborted
