"""The backend of the configured default storage."""

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, storages
from storages.backends.s3 import S3Storage

from registry.storage.filesystem import FilesystemBackend
from registry.storage.s3 import S3Backend

Backend = FilesystemBackend | S3Backend


def backend() -> Backend:
    storage = storages["default"]
    if isinstance(storage, S3Storage):
        return S3Backend(storage)
    if isinstance(storage, FileSystemStorage):
        return FilesystemBackend(storage)
    raise ImproperlyConfigured(f"Unsupported storage for blobs: {type(storage).__name__}")
