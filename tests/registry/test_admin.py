"""The admin console: every screen renders, with sizes, hashes and usage counts."""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import User
from registry.models import RegisteredModel, Tag
from tests.factories import ModelVersionFactory, artifact_file


@pytest.fixture
def superuser_client(client, default_tenant):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-123456"))
    return client


@pytest.fixture
def catalog(default_tenant):
    version = ModelVersionFactory(model__tenant=default_tenant, model__name="det",
                                  version="1.0.0")
    version.model.tags.add(Tag.objects.create(tenant=default_tenant, name="vision"))
    return artifact_file(version, path="weights/model.onnx", content=b"x" * 2048)


def test_every_admin_screen_renders(superuser_client, catalog):
    for model in admin.site._registry:
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert superuser_client.get(changelist).status_code == 200, changelist
        first = model.objects.first()
        if first is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change",
                             args=[first.pk])
            assert superuser_client.get(change).status_code == 200, change


def test_version_page_shows_files_with_size_and_hash(superuser_client, catalog):
    url = reverse("admin:registry_modelversion_change", args=[catalog.model_version_id])

    page = superuser_client.get(url).content.decode()

    assert "weights/model.onnx" in page
    assert "2.0\xa0KB" in page
    assert catalog.sha256 in page


def test_tag_changelist_shows_usage_counts(superuser_client, catalog):
    page = superuser_client.get(reverse("admin:registry_tag_changelist")).content.decode()

    assert '<td class="field-usage_count">1</td>' in page


def test_model_changelist_search(superuser_client, catalog):
    url = reverse("admin:registry_registeredmodel_changelist")

    found = superuser_client.get(url, {"q": "det"}).content.decode()
    missing = superuser_client.get(url, {"q": "nothing-like-it"}).content.decode()

    assert "1 registered model" in found
    assert "0 registered models" in missing
    assert RegisteredModel.objects.count() == 1
