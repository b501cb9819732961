from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models


class RegistryErrorCode(models.TextChoices):
    """Codes carried by `OperationInfo` messages; the label is the description clients see."""

    NOT_FOUND = "not_found", "The object does not exist or is not visible to you."
    PERMISSION_DENIED = "permission_denied", "You may not perform this operation."
    DUPLICATE_NAME = "duplicate_name", "The name is already taken in this tenant."
    DUPLICATE_VERSION = "duplicate_version", "This version string already exists."
    DUPLICATE_PATH = "duplicate_path", "A file with this path already exists in the version."
    INVALID_NAME = "invalid_name", "The name has characters or a length that are not allowed."
    INVALID_VERSION = "invalid_version", "Not a semantic version (MAJOR.MINOR.PATCH[-pre][+build])."
    INVALID_PATH = "invalid_path", "Not a safe relative file path."
    INVALID_URI = "invalid_uri", "Not an allowed source URI."
    INVALID_CHOICE = "invalid_choice", "The value is not one of the allowed choices."
    INVALID_METADATA = "invalid_metadata", "A metadata name or value is empty or too long."
    INVALID_METRICS = "invalid_metrics", "Metrics must map names to finite numbers."
    INVALID_HARDWARE = "invalid_hardware", "Hardware requirements do not match their schema."
    INVALID_IMAGE = "invalid_image", "A container image reference is malformed."
    INVALID_LICENSE = "invalid_license", "Not an SPDX license identifier."
    INVALID_TAG = "invalid_tag", "A tag name is empty, too long or has forbidden characters."
    TOO_MANY_ITEMS = "too_many_items", "Too many tags, metadata entries or references."
    TAG_IN_USE = "tag_in_use", "A default vocabulary entry that is in use cannot be deleted."
    ALIAS_VERSION_MISMATCH = "alias_version_mismatch", "The version belongs to another model."
    FILE_TOO_LARGE = "file_too_large", "The file exceeds the maximum file size."
    QUOTA_EXCEEDED = "quota_exceeded", "The tenant's storage quota would be exceeded."
    INTEGRITY_MISMATCH = "integrity_mismatch", "Size or sha256 does not match the bytes received."
    UPLOAD_NOT_OPEN = "upload_not_open", "The upload session is completed, aborted or expired."
    INVALID_PART = "invalid_part", "A part is missing, duplicated or does not match."
    INVALID_UPLOAD = (
        "invalid_upload", "A resumable upload's size, sha256 or part count is out of range."
    )
    READ_ONLY_TOKEN = "read_only_token", "The token's scopes do not allow this operation."


class CodedValidationError(ValidationError):
    """A ValidationError whose code reaches every field of a `{field: message}` dict.

    Django keeps `code` only for plain messages; clients need it on each field message.
    """

    def __init__(self, message, code=None, params=None) -> None:
        if isinstance(message, dict) and code is not None:
            message = {field: text if isinstance(text, ValidationError)
                       else ValidationError(text, code=code, params=params)
                       for field, text in message.items()}
        super().__init__(message, code, params)


class CodedPermissionDenied(PermissionDenied):
    """A refusal that clients see as an `OperationInfo` message of kind PERMISSION, with a code."""

    def __init__(self, message: str, code: str = RegistryErrorCode.PERMISSION_DENIED) -> None:
        super().__init__(message)
        self.code = code
