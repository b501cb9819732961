from django.conf import settings
from django.db import models

from accounts.errors import CodedValidationError


class RegistryErrorCode(models.TextChoices):
    """Codes carried by `OperationInfo` messages; the label is the description clients see."""

    DUPLICATE_VERSION = "duplicate_version", "This version string already exists."
    DUPLICATE_PATH = "duplicate_path", "A file with this path already exists in the version."
    INVALID_VERSION = "invalid_version", "Not a semantic version (MAJOR.MINOR.PATCH[-pre][+build])."
    INVALID_PATH = "invalid_path", "Not a safe relative file path."
    INVALID_CONTENT_TYPE = (
        "invalid_content_type", "Not a media type such as application/octet-stream."
    )
    INVALID_URI = "invalid_uri", "Not an allowed source URI."
    INVALID_METADATA = "invalid_metadata", "A metadata name or value is empty or too long."
    INVALID_METRICS = "invalid_metrics", "Metrics must map names to finite numbers."
    INVALID_HARDWARE = "invalid_hardware", "Hardware requirements do not match their schema."
    INVALID_IMAGE = "invalid_image", "A container image reference is malformed."
    INVALID_LICENSE = "invalid_license", "Not an SPDX license identifier."
    INVALID_TAG = "invalid_tag", "A tag name is empty, too long or has forbidden characters."
    TOO_MANY_ITEMS = "too_many_items", "Too many tags, metadata entries or references."
    TAG_IN_USE = "tag_in_use", "A default vocabulary entry that is in use cannot be deleted."
    ALIAS_VERSION_MISMATCH = "alias_version_mismatch", "The version belongs to another model."
    VERSION_ALIASED = (
        "version_aliased", "An alias points at the version; move or remove it before deleting."
    )
    ALIAS_PROTECTED = (
        "alias_protected", "The alias is protected; only those who manage the model move it."
    )
    VERSION_IMMUTABLE = (
        "version_immutable", "The version is immutable: no file, content or deletion changes."
    )
    VERSION_TRASHED = (
        "version_trashed", "The version is in the trash: restore it before changing it."
    )
    NOT_TRASHED = "not_trashed", "The version or file is not in the trash."
    RESTORE_WINDOW_PASSED = (
        "restore_window_passed", "The trash's restore window has passed; it is being purged."
    )
    FILE_TOO_LARGE = "file_too_large", "The file exceeds the maximum file size."
    QUOTA_EXCEEDED = "quota_exceeded", "The tenant's storage quota would be exceeded."
    INTEGRITY_MISMATCH = "integrity_mismatch", "Size or sha256 does not match the bytes received."
    TOO_MANY_UPLOADS = (
        "too_many_uploads", "You have too many open uploads; complete or abort some first."
    )
    UPLOAD_NOT_OPEN = "upload_not_open", "The upload session is completed, aborted or expired."
    INVALID_PART = "invalid_part", "A part is missing, duplicated or does not match."
    INVALID_UPLOAD = (
        "invalid_upload", "A resumable upload's size, sha256 or part count is out of range."
    )


def file_too_large() -> CodedValidationError:
    return CodedValidationError(
        {"file": f"The file exceeds the maximum file size of "
                 f"{settings.REGISTRY_MAX_FILE_SIZE} bytes."},
        code=RegistryErrorCode.FILE_TOO_LARGE,
    )


def version_immutable(field: str = "versionId") -> CodedValidationError:
    return CodedValidationError(
        {field: "The version is immutable: its files and content cannot change and it "
                "cannot be deleted."},
        code=RegistryErrorCode.VERSION_IMMUTABLE,
    )


def version_trashed(field: str = "versionId") -> CodedValidationError:
    return CodedValidationError(
        {field: "The version is in the trash; a tenant admin may restore it."},
        code=RegistryErrorCode.VERSION_TRASHED,
    )
