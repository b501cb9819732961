"""Model, dataset and version pages of the admin console: scan-status badges and filters,
aliases, lineage both ways, download links through the authorised view, and structured
fields for hardware, metrics, checkpoints and container images."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from registry.models import ModelVersion, ScanStatus
from tests.accounts.world import build_world
from tests.factories import artifact_file


@pytest.fixture
def world(db, default_tenant):
    """alpha's world (a model version trained on a dataset version, aliased, with a clean
    file), plus a second version of the model holding a flagged file."""
    world = build_world("alpha")
    flagged_version = ModelVersion.objects.create(
        model=world.model, version="3.0.0", version_major=3, version_minor=0,
        version_patch=0, version_prerelease="~", created_by=world.admin)
    world.flagged = artifact_file(flagged_version, path="evil.pkl", content=b"bad",
                                  scan_status=ScanStatus.FLAGGED)
    return world


def admin_client(user) -> Client:
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def change(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def badges(html: str) -> list[str]:
    return re.findall(r'<span class="scan-badge (\w+)">', html)


def cell(html: str, field: str) -> str:
    """The inner HTML of a read-only cell of an inline row."""
    return re.search(rf'class="field-{field}">\s*<p>(.*?)</p>', html, re.S).group(1)


def test_the_model_page_lists_versions_with_badges_and_aliases(world):
    page = admin_client(world.admin).get(change(world.model)).content.decode()

    rows = re.findall(r'<tr class="form-row[^"]*"\s+id="versions-\d+">(.*?)</tr>', page, re.S)
    assert [(cell(row, "version"), badges(row), cell(row, "version_aliases"))
            for row in rows] == [("3.0.0", ["flagged"], "—"),
                                 ("2.0.0", ["clean"], "alpha-champion")]


def test_list_views_show_and_filter_by_the_worst_scan_status(world):
    client = admin_client(world.admin)
    models_url = reverse("admin:registry_registeredmodel_changelist")
    versions_url = reverse("admin:registry_modelversion_changelist")

    models_page = client.get(models_url).content.decode()
    flagged_versions = client.get(versions_url, {"scan_status": "flagged"}).content.decode()
    clean_versions = client.get(versions_url, {"scan_status": "clean"}).content.decode()
    clean_models = client.get(models_url, {"scan_status": "clean"}).content.decode()

    assert badges(models_page) == ["flagged"]  # its worst file, in any version
    assert re.findall(r'field-version">([^<]+)<', flagged_versions) == ["3.0.0"]
    assert re.findall(r'field-version">([^<]+)<', clean_versions) == ["2.0.0"]
    assert "0 registered models" in clean_models


def test_lineage_links_both_ways(world):
    client = admin_client(world.admin)

    model_version_page = client.get(change(world.model_version)).content.decode()
    dataset_version_page = client.get(change(world.dataset_version)).content.decode()

    assert (f'<a href="{change(world.dataset_version)}">alpha-images 1.0.0</a>'
            in model_version_page)
    assert (f'<a href="{change(world.model_version)}">alpha-detector 2.0.0</a>'
            in dataset_version_page)


def test_version_files_link_to_the_authorised_download_and_quarantined_ones_do_not(
        storage_backend, world):
    client = admin_client(world.admin)
    clean_page = client.get(change(world.model_version)).content.decode()
    flagged_page = client.get(change(world.flagged.model_version)).content.decode()

    assert cell(clean_page, "download") == (
        f'<a href="/files/{world.file.pk}/download" download>download</a>')
    # The filesystem streams the file; S3 redirects to a presigned URL.
    assert client.get(f"/files/{world.file.pk}/download").status_code == (
        302 if storage_backend == "s3" else 200)
    assert cell(flagged_page, "download") == "quarantined"
    assert client.get(f"/files/{world.flagged.pk}/download").status_code == 404


def version_form(version: ModelVersion, **changes) -> dict:
    data = {"model": version.model_id, "state": version.state, "precision": version.precision,
            "description": version.description, "source_uri": version.source_uri,
            "files-TOTAL_FORMS": 0, "files-INITIAL_FORMS": 0, "files-MIN_NUM_FORMS": 0,
            "files-MAX_NUM_FORMS": 1000}
    return {**data, **changes}


def test_hardware_metrics_checkpoints_and_images_are_structured_fields(world):
    client = admin_client(world.admin)
    digest = "sha256:" + "ab" * 32

    response = client.post(change(world.model_version), version_form(
        world.model_version, min_memory_mb="4096", gpu_memory_mb="8192",
        accelerators=["cuda", "cpu"], metrics_lines="mAP = 0.53\nlatency_ms = 12",
        checkpoints_lines="s3://bucket/ckpt/epoch-10.pt\n",
        container_images_lines=f"ghcr.io/acme/detector@{digest}"))

    assert response.status_code == 302, response.context["adminform"].form.errors
    stored = ModelVersion.objects.get(pk=world.model_version.pk)
    assert stored.hardware == {"min_memory_mb": 4096, "gpu_memory_mb": 8192,
                               "accelerators": ["cuda", "cpu"]}
    assert stored.metrics == {"mAP": 0.53, "latency_ms": 12}
    assert stored.checkpoints == ["s3://bucket/ckpt/epoch-10.pt"]
    assert stored.container_images == [{"registry": "ghcr.io", "repository": "acme/detector",
                                        "digest": digest}]
    page = client.get(change(world.model_version)).content.decode()
    assert 'name="min_memory_mb" value="4096"' in page
    assert "mAP = 0.53\nlatency_ms = 12</textarea>" in page
    assert f"ghcr.io/acme/detector@{digest}</textarea>" in page


@pytest.mark.parametrize(("changes", "field", "error"), [
    ({"metrics_lines": "mAP: 0.5"}, "metrics_lines", "'mAP: 0.5': write name = number."),
    ({"metrics_lines": "mAP = true"}, "metrics_lines", "'mAP' must map to a finite number."),
    ({"container_images_lines": "ghcr.io/acme@latest"}, "container_images_lines",
     "registry and repository are lowercase references and digest is sha256:<64 hex>."),
    ({"checkpoints_lines": "javascript:alert(1)"}, "checkpoints_lines", None),
])
def test_bad_structured_values_are_refused_and_nothing_changes(world, changes, field, error):
    before = ModelVersion.objects.filter(pk=world.model_version.pk).values().get()

    response = admin_client(world.admin).post(change(world.model_version),
                                              version_form(world.model_version, **changes))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    if error is not None:
        assert errors[field] == [error]
    assert ModelVersion.objects.filter(pk=world.model_version.pk).values().get() == before


def test_the_superuser_sees_the_same_pages(world):
    root = User.objects.create_superuser("root", password="pw-123456789")

    page = admin_client(root).get(change(world.model)).content.decode()

    assert badges(page) == ["flagged", "clean"]
