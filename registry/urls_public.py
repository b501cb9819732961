"""URLs handed to clients: absolute when PUBLIC_BASE_URL is set, root-relative otherwise."""

from django.conf import settings
from django.urls import reverse

from registry.catalog import kind_of


def absolute(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def file_download_url(artifact) -> str:
    return absolute(reverse("registry:file-download", args=[artifact.pk]))


def archive_url(version) -> str:
    return absolute(reverse("registry:version-archive", args=[kind_of(version).name, version.pk]))
