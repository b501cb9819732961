"""The admin console per tenant: a tenant admin sees and edits only the tenant they work in,
through every screen; the superuser sees everything."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.admin import TenantScopedAdminMixin, tenant_lookup
from accounts.authentication import SESSION_TENANT_KEY
from accounts.models import ApiToken, LoginSession, Membership, Role, Tenant, TenantGroup
from accounts.selectors import actor_for
from registry.models import ArtifactFile, Blob, ModelVersion, RegisteredModel, Tag
from scanning.models import ScanRelease, ScanReport
from tests.accounts.conftest import PASSWORD, login
from tests.accounts.world import build_world
from usage import services as usage_services

User = get_user_model()


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def lookup_of(model_admin) -> str:
    return model_admin.tenant_lookup or tenant_lookup(model_admin.model)


@pytest.fixture
def tenants(db, default_tenant):
    """Two tenants with rows in every table an admin screen lists."""
    worlds = build_world("alpha"), build_world("bravo")
    for world in worlds:
        login(world.member.username, tenant=world.tenant.slug)
        usage_services.pull_record(actor=actor_for(user=world.member, tenant=world.tenant),
                                   artifact=world.file)
        report = ScanReport.objects.create(file=world.file, trigger="upload",
                                           scanner_version="1", started_at=timezone.now())
        ScanRelease.objects.create(file=world.file, report=report, released_by=world.admin,
                                   reason="reviewed")
    return worlds


def staff_client(user, work_in: Tenant | None = None) -> Client:
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    if work_in is not None:
        response = client.post(changelist(Tenant), {
            "action": "work_in_tenant", "_selected_action": [work_in.pk]})
        assert response.status_code == 302
    return client


def test_a_tenant_admin_sees_only_the_tenant_they_work_in_on_every_screen(tenants):
    alpha, bravo = tenants
    client = staff_client(bravo.admin, work_in=bravo.tenant)
    scoped = 0

    for model, model_admin in admin.site._registry.items():
        if model is Tenant:
            continue  # lists the tenants they administer: see below
        response = client.get(changelist(model))
        if not isinstance(model_admin, TenantScopedAdminMixin):
            assert response.status_code == 403, model  # fail closed: not scoped, not shown
            continue
        scoped += 1
        assert response.status_code == 200, model
        shown = {obj.pk for obj in response.context["cl"].queryset}
        in_bravo = set(model.objects.filter(**{lookup_of(model_admin): bravo.tenant})
                       .values_list("pk", flat=True))
        in_alpha = set(model.objects.filter(**{lookup_of(model_admin): alpha.tenant})
                       .values_list("pk", flat=True))
        assert shown == in_bravo, model
        assert in_alpha - in_bravo and not shown & in_alpha, model  # alpha has rows too
    assert scoped == sum(isinstance(a, TenantScopedAdminMixin)
                         for a in admin.site._registry.values())


def test_the_superuser_sees_every_tenant(tenants):
    client = Client()
    client.force_login(User.objects.create_superuser("root", password=PASSWORD))

    for model in admin.site._registry:
        response = client.get(changelist(model))
        assert response.status_code == 200, model
        assert response.context["cl"].result_count == model.objects.count(), model


def test_another_tenants_rows_cannot_be_opened_or_changed(tenants):
    alpha, bravo = tenants
    client = staff_client(bravo.admin, work_in=bravo.tenant)

    theirs = client.get(change(alpha.model))
    missing = client.get(reverse("admin:registry_registeredmodel_change", args=[987654]))
    posted = client.post(change(alpha.model), {"name": "taken-over"})

    assert (theirs.status_code, theirs.url) == (missing.status_code, missing.url) == (
        302, "/admin/")
    assert posted.status_code == 302
    assert RegisteredModel.objects.get(pk=alpha.model.pk).name == "alpha-detector"
    assert client.get(change(bravo.model)).status_code == 200


def test_forms_offer_only_the_tenants_rows(tenants):
    alpha, bravo = tenants
    client = staff_client(bravo.admin, work_in=bravo.tenant)

    form = client.get(reverse("admin:registry_registeredmodel_add")).context["adminform"].form

    assert list(form.fields["tenant"].queryset) == [bravo.tenant]
    assert set(form.fields["owner"].queryset) == {bravo.admin, bravo.member}
    assert set(form.fields["datasets"].queryset) == {bravo.dataset}
    assert set(form.fields["tags"].queryset) == {bravo.tag}
    response = client.post(reverse("admin:registry_registeredmodel_add"), {
        "tenant": alpha.tenant.pk, "owner": alpha.admin.pk, "name": "sneaky",
        "status": "training", "visibility": "private"})
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"tenant", "owner"}
    assert RegisteredModel.objects.filter(name="sneaky").exists() is False


def test_tenant_filters_and_other_tenants_are_not_listed(tenants):
    alpha, bravo = tenants
    client = staff_client(bravo.admin, work_in=bravo.tenant)

    models_page = client.get(changelist(RegisteredModel)).content.decode()
    tenants_page = client.get(changelist(Tenant))

    assert "alpha-corp" not in models_page
    assert [t.slug for t in tenants_page.context["cl"].queryset] == ["bravo-corp"]


def test_tenant_admins_may_not_change_users_or_quotas(tenants):
    alpha, bravo = tenants
    client = staff_client(bravo.admin, work_in=bravo.tenant)

    user_page = client.post(change(bravo.member), {"username": "renamed", "is_superuser": "on"})
    tenant_form = client.get(change(bravo.tenant)).context["adminform"]

    assert user_page.status_code == 403
    assert User.objects.get(pk=bravo.member.pk).is_superuser is False
    assert {"slug", "quota_bytes", "quota_files"} <= set(tenant_form.readonly_fields)
    assert client.get(change(alpha.member)).status_code == 302  # not one of theirs


def test_staff_members_who_are_not_tenant_admins_get_no_tenant_admin_screens(tenants):
    alpha, bravo = tenants
    client = staff_client(bravo.member)
    session = client.session
    session[SESSION_TENANT_KEY] = bravo.tenant.slug
    session.save()

    statuses = {model.__name__: client.get(changelist(model)).status_code
                for model in (Tenant, Membership, TenantGroup, ApiToken, LoginSession, User,
                              ModelVersion, ArtifactFile, Blob, Tag)}

    assert set(statuses.values()) == {403}, statuses


def test_an_admin_of_several_tenants_switches_between_them(tenants):
    alpha, bravo = tenants
    Membership.objects.create(user=bravo.admin, tenant=alpha.tenant, role=Role.ADMIN)
    client = staff_client(bravo.admin, work_in=bravo.tenant)
    assert [m.name for m in client.get(changelist(RegisteredModel)).context["cl"].queryset] == [
        "bravo-detector"]

    client.post(changelist(Tenant), {"action": "work_in_tenant",
                                     "_selected_action": [alpha.tenant.pk]})

    assert [m.name for m in client.get(changelist(RegisteredModel)).context["cl"].queryset] == [
        "alpha-detector"]
