"""The model page's alias rows save through the alias services (history, protection), its
alias history is shown read-only, and immutable versions are frozen in the version page."""

import re

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.models import Role
from accounts.selectors import actor_for
from registry import services
from registry.admin import ModelAliasInline
from registry.models import ModelAlias, ModelAliasEvent, RegisteredModel
from tests.factories import ModelVersionFactory, RegisteredModelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(member_factory):
    return member_factory(Role.MAINTAINER, username="owner", is_staff=True)


@pytest.fixture
def tenant_admin(member_factory):
    # Alias rows and version pages are the tenant admins' (TenantScopedAdminMixin).
    return member_factory(Role.ADMIN, username="admin", is_staff=True)


@pytest.fixture
def model(default_tenant, owner):
    model = RegisteredModelFactory(tenant=default_tenant, owner=owner, name="detector")
    for number in (1, 2):
        ModelVersionFactory(model=model, version=f"{number}.0.0")
    services.model_alias_set(actor=actor_for(user=owner, tenant=default_tenant),
                             model_id=model.pk, alias="production",
                             version_id=model.versions.get(version="1.0.0").pk)
    return model


def _save_alias_rows(user, model, **row) -> list[str]:
    """Post the model page's alias rows as `user`; the messages shown."""
    request = RequestFactory().post("/", headers={"X-Registry-Tenant": model.tenant.slug})
    request.user, request.session = user, {}
    request._messages = FallbackStorage(request)
    model_admin = admin.site._registry[RegisteredModel]
    alias = model.aliases.get()
    formset_class = ModelAliasInline(RegisteredModel, admin.site).get_formset(request, model)
    data = {"aliases-TOTAL_FORMS": 1, "aliases-INITIAL_FORMS": 1, "aliases-0-id": alias.pk,
            "aliases-0-model": model.pk, "aliases-0-name": alias.name,
            "aliases-0-version": alias.version_id, **{f"aliases-0-{k}": v for k, v in row.items()}}
    formset = formset_class(data, instance=model, prefix="aliases")
    assert formset.is_valid(), formset.errors
    form = model_admin.get_form(request, model)(instance=model)
    model_admin.save_formset(request, form, formset, change=True)
    return [str(message) for message in get_messages(request)]


def test_moving_and_protecting_in_the_admin_goes_through_the_services(tenant_admin, model):
    version_2 = model.versions.get(version="2.0.0")

    shown = _save_alias_rows(tenant_admin, model, version=version_2.pk, protected="on")

    assert shown == []
    assert list(ModelAliasEvent.objects.order_by("id").values_list(
        "action", "version__version", "previous_version__version", "actor__username")) == [
        ("set", "1.0.0", None, "owner"), ("moved", "2.0.0", "1.0.0", "admin")]
    assert ModelAlias.objects.get(model=model).protected is True


def test_removing_in_the_admin_is_kept(tenant_admin, model):
    shown = _save_alias_rows(tenant_admin, model, DELETE="on")

    assert shown == []
    assert ModelAlias.objects.filter(model=model).exists() is False
    assert list(ModelAliasEvent.objects.order_by("id").values_list(
        "action", "version__version", "previous_version__version")) == [
        ("set", "1.0.0", None), ("removed", None, "1.0.0")]


def test_the_model_page_shows_the_alias_history(tenant_admin, model):
    client = Client()
    client.force_login(tenant_admin)

    page = client.get(reverse("admin:registry_registeredmodel_change",
                              args=[model.pk])).content.decode()

    event = ModelAliasEvent.objects.get()
    assert (f"<div>{event.at:%Y-%m-%d %H:%M:%S} UTC · production set · — → 1.0.0 · owner"
            f"</div>") in page


def test_an_immutable_version_page_leaves_only_its_state_editable(owner, tenant_admin, model,
                                                                 default_tenant):
    version = model.versions.get(version="1.0.0")
    services.version_immutable_set(actor=actor_for(user=owner, tenant=default_tenant),
                                   version=version, immutable=True)
    client = Client()
    client.force_login(tenant_admin)

    page = client.get(reverse("admin:registry_modelversion_change",
                              args=[version.pk])).content.decode()

    assert re.search(r'<select name="state"[^>]*>', page).group(0) == (
        '<select name="state" id="id_state">')
    assert "disabled" in re.search(r'<textarea name="description"[^>]*>', page).group(0)
    assert "disabled" in re.search(r'<input type="number" name="min_memory_mb"[^>]*>',
                                   page).group(0)
