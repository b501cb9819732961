"""Python SDK of the model registry; the `registry` command is built on it."""

from registry_client.client import (
    Client,
    FileInfo,
    PullResult,
    TransferStats,
    VersionInfo,
    evam_folder,
    load_manifest,
    verify_folder,
)
from registry_client.errors import (
    AuthError,
    IntegrityError,
    NotDownloadableError,
    NotFoundError,
    RegistryError,
    ServerError,
    UsageError,
)

__all__ = ["Client", "FileInfo", "PullResult", "TransferStats", "VersionInfo", "evam_folder",
           "load_manifest", "verify_folder", "AuthError", "IntegrityError",
           "NotDownloadableError", "NotFoundError", "RegistryError", "ServerError",
           "UsageError"]
