"""Validation of client input. Each failure raises ValidationError with a registry error code."""

import math
import re
import unicodedata
from urllib.parse import urlsplit

from accounts.errors import CodedValidationError, CommonErrorCode
from registry.errors import RegistryErrorCode as Code

TAG_RE = re.compile(r"^[\w][\w .:/+-]{0,99}\Z")
# semver.org's regular expression, build metadata allowed and ignored for ordering.
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\Z",
    re.ASCII,  # `\d` would also match other scripts' digits
)
SPDX_RE = re.compile(r"^[A-Za-z0-9.+-]{1,64}( (AND|OR|WITH) [A-Za-z0-9.+-]{1,64})*\Z")
# `models` and `mlflow-artifacts`: the sources MLflow clients register (mlflow_compat).
SOURCE_URI_SCHEMES = {"http", "https", "s3", "gs", "wandb", "mlflow", "runs", "file", "git",
                      "models", "mlflow-artifacts"}
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}\Z")
IMAGE_PART_RE = re.compile(r"^[a-z0-9][a-z0-9._/:-]{0,254}\Z")
SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")
# RFC 6838 type/subtype tokens with optional `; name=value` parameters: no spaces around the
# slash, no CR/LF or other control characters (they would break the download's header).
MEDIA_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
MEDIA_TYPE_RE = re.compile(
    rf"{MEDIA_TOKEN}/{MEDIA_TOKEN}"
    rf"(?:; ?{MEDIA_TOKEN}=(?:{MEDIA_TOKEN}|\"[\x20-\x21\x23-\x5b\x5d-\x7e]*\"))*\Z"
)
MAX_CONTENT_TYPE = 200
# The largest number a version part may be: the database column's (positive integer) maximum.
MAX_VERSION_PART = 2**31 - 1

MAX_PATH_LENGTH = 1024
MAX_PATH_SEGMENT = 255
MAX_METADATA_VALUE = 1000
MAX_ITEMS = 100
MAX_TEXT = 100_000


def parse_semver(value: str) -> tuple[int, int, int, str]:
    """(major, minor, patch, prerelease sort key); raises INVALID_VERSION."""
    match = SEMVER_RE.match(value or "") if len(value or "") <= 100 else None
    if not match:
        raise CodedValidationError(
            {"version": f"{value!r} is not a semantic version such as 1.2.0 or 2.0.0-rc.1."},
            code=Code.INVALID_VERSION,
        )
    major, minor, patch = (int(part) for part in match.group(1, 2, 3))
    if max(major, minor, patch) > MAX_VERSION_PART:
        raise CodedValidationError(
            {"version": f"Each of MAJOR.MINOR.PATCH is at most {MAX_VERSION_PART}."},
            code=Code.INVALID_VERSION,
        )
    return major, minor, patch, _prerelease_sort_key(match.group(4))


def _prerelease_sort_key(prerelease: str | None) -> str:
    # A release sorts after its pre-releases; numeric identifiers compare numerically.
    if not prerelease:
        return "~"
    parts = []
    for identifier in prerelease.split("."):
        parts.append(f"0{int(identifier):010d}" if identifier.isdigit() else f"1{identifier}")
    return ".".join(parts)[:100]


def validate_file_path(value: str) -> str:
    """A relative POSIX path inside a version: never absolute, never leaving the version."""
    problem = None
    if not value or len(value) > MAX_PATH_LENGTH:
        problem = f"must be 1-{MAX_PATH_LENGTH} characters"
    elif "\\" in value:
        problem = "must use '/' separators, not backslashes"
    elif any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        problem = "must not contain NUL or control characters"
    elif value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        problem = "must be relative"
    else:
        segments = value.split("/")
        if any(segment in ("", ".", "..") for segment in segments):
            problem = "must not contain empty, '.' or '..' segments"
        elif any(len(segment) > MAX_PATH_SEGMENT for segment in segments):
            problem = f"segments must be at most {MAX_PATH_SEGMENT} characters"
    if problem:
        raise CodedValidationError({"path": f"{value!r}: path {problem}."}, code=Code.INVALID_PATH)
    return value


def validate_source_uri(value: str) -> str:
    """Checked for shape only; the server never dereferences it."""
    if not value:
        return value
    parts = urlsplit(value)
    if (
        len(value) > 2000
        or parts.scheme not in SOURCE_URI_SCHEMES
        or not (parts.netloc or parts.path)
        or any(unicodedata.category(ch) == "Cc" or ch.isspace() for ch in value)
    ):
        raise CodedValidationError(
            {"source": f"{value!r}: use a URI with one of the schemes "
                       f"{', '.join(sorted(SOURCE_URI_SCHEMES))}."},
            code=Code.INVALID_URI,
        )
    return value


def validate_choice(value: str, choices, field: str) -> str:
    if value not in choices.values:
        raise CodedValidationError(
            {field: f"{value!r} is not one of {', '.join(choices.values)}."},
            code=CommonErrorCode.INVALID_CHOICE,
        )
    return value


def validate_license(value: str) -> str:
    if value and not SPDX_RE.match(value):
        raise CodedValidationError({"license": f"{value!r} is not an SPDX identifier."},
                              code=Code.INVALID_LICENSE)
    return value


def validate_text(value: str, field: str, max_length: int = MAX_TEXT) -> str:
    if len(value) > max_length:
        raise CodedValidationError({field: f"must be at most {max_length} characters."},
                              code=Code.INVALID_METADATA)
    return value


def validate_tag_name(value: str) -> str:
    if not TAG_RE.match(value or "") or value != value.strip():
        raise CodedValidationError(
            {"tags": f"{value!r}: tags are 1-100 word characters, spaces, '.:/+-'."},
            code=Code.INVALID_TAG,
        )
    return value


def validate_item_count(items, field: str) -> None:
    if len(items) > MAX_ITEMS:
        raise CodedValidationError({field: f"at most {MAX_ITEMS} items."}, code=Code.TOO_MANY_ITEMS)


def validate_metadata_entry(name: str, value: str) -> None:
    if not name or len(name) > 100 or not TAG_RE.match(name):
        raise CodedValidationError({"metadata": f"{name!r}: names are 1-100 word characters."},
                              code=Code.INVALID_METADATA)
    if len(value) > MAX_METADATA_VALUE:
        raise CodedValidationError(
            {"metadata": f"{name}: values are at most {MAX_METADATA_VALUE} characters."},
            code=Code.INVALID_METADATA,
        )


def validate_metrics(metrics: dict) -> dict:
    if not isinstance(metrics, dict) or len(metrics) > MAX_ITEMS:
        raise CodedValidationError({"metrics": "an object of at most 100 names to numbers."},
                              code=Code.INVALID_METRICS)
    for name, value in metrics.items():
        if (not isinstance(name, str) or not 0 < len(name) <= 100
                or isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value)):
            raise CodedValidationError({"metrics": f"{name!r} must map to a finite number."},
                                  code=Code.INVALID_METRICS)
    return metrics


HARDWARE_INT_FIELDS = ("min_memory_mb", "gpu_memory_mb", "disk_mb", "min_cpu_cores")
ACCELERATORS = {"cpu", "cuda", "rocm", "npu", "tpu", "vpu", "gpu", "fpga", "mps"}


def validate_hardware(hardware: dict) -> dict:
    for name, value in hardware.items():
        if name in HARDWARE_INT_FIELDS:
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**40
        elif name == "accelerators":
            ok = isinstance(value, list) and all(v in ACCELERATORS for v in value)
        else:
            ok = False
        if not ok:
            raise CodedValidationError(
                {"hardware": f"{name!r}: expected {', '.join(HARDWARE_INT_FIELDS)} as "
                             f"non-negative integers and accelerators from "
                             f"{', '.join(sorted(ACCELERATORS))}."},
                code=Code.INVALID_HARDWARE,
            )
    return hardware


def validate_container_image(image: dict) -> dict:
    registry, repository, digest = (image.get(k, "") for k in ("registry", "repository", "digest"))
    if not (IMAGE_PART_RE.match(registry) and IMAGE_PART_RE.match(repository)
            and DIGEST_RE.match(digest)):
        raise CodedValidationError(
            {"containerImages": "registry and repository are lowercase references and "
                                "digest is sha256:<64 hex>."},
            code=Code.INVALID_IMAGE,
        )
    return {"registry": registry, "repository": repository, "digest": digest}


def validate_content_type(value: str) -> str:
    """Empty (guessed from the path) or a media type such as `application/octet-stream`."""
    if value and (len(value) > MAX_CONTENT_TYPE or not MEDIA_TYPE_RE.match(value)):
        raise CodedValidationError(
            {"contentType": f"{value[:100]!r} is not a media type such as "
                            "application/octet-stream."},
            code=Code.INVALID_CONTENT_TYPE,
        )
    return value


def validate_sha256(value: str) -> str:
    if not SHA256_RE.match(value or ""):
        raise CodedValidationError({"sha256": "64 lowercase hex characters."},
                                   code=Code.INVALID_UPLOAD)
    return value
