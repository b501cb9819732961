"""The admin console keeps the rule GraphQL keeps: a tenant keeps at least one admin."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Membership, Role, Tenant, User
from tests.factories import MembershipFactory, TenantFactory

LEFT_WITHOUT_ADMIN = "acme would be left without an admin: a tenant keeps at least one."


@pytest.fixture
def acme(db):
    """The tenant acme, whose only admin is ada; bob is a viewer."""
    tenant = TenantFactory(slug="acme")
    admin = MembershipFactory(tenant=tenant, role=Role.ADMIN, user__username="ada")
    MembershipFactory(tenant=tenant, role=Role.VIEWER, user__username="bob")
    return tenant, admin


@pytest.fixture
def root(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="a long passphrase"))
    return client


def admins_of(tenant: Tenant) -> list[str]:
    return sorted(Membership.objects.filter(tenant=tenant, role=Role.ADMIN)
                  .values_list("user__username", flat=True))


def membership_change(membership: Membership) -> str:
    return reverse("admin:accounts_membership_change", args=[membership.pk])


@pytest.mark.parametrize("change", [{"role": Role.VIEWER}, {"tenant": "other"}])
def test_demoting_or_moving_the_last_admin_is_refused(acme, root, change):
    tenant, admin = acme
    other = TenantFactory(slug="other")
    data = {"user": "ada", "tenant": tenant.pk, "role": Role.ADMIN, **change}
    data["tenant"] = other.pk if data["tenant"] == "other" else tenant.pk

    response = root.post(membership_change(admin), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [LEFT_WITHOUT_ADMIN]
    assert admins_of(tenant) == ["ada"]
    assert admins_of(other) == []


def test_with_a_second_admin_the_first_may_be_demoted(acme, root):
    tenant, admin = acme
    MembershipFactory(tenant=tenant, role=Role.ADMIN, user__username="cy")

    response = root.post(membership_change(admin), {"user": "ada", "tenant": tenant.pk,
                                                     "role": Role.VIEWER})

    assert response.status_code == 302
    assert admins_of(tenant) == ["cy"]


def test_deleting_the_last_admin_is_refused(acme, root):
    tenant, admin = acme

    response = root.post(reverse("admin:accounts_membership_delete", args=[admin.pk]),
                         {"post": "yes"})

    assert (response.status_code, response.context["protected"]) == (200, [LEFT_WITHOUT_ADMIN])
    assert admins_of(tenant) == ["ada"]


def test_deleting_every_admin_at_once_is_refused_one_of_two_is_not(acme, root):
    tenant, admin = acme
    second = MembershipFactory(tenant=tenant, role=Role.ADMIN, user__username="cy")
    changelist = reverse("admin:accounts_membership_changelist")

    both = root.post(changelist, {"action": "delete_selected", "post": "yes",
                                  "_selected_action": [admin.pk, second.pk]})
    assert (both.status_code, both.context["protected"]) == (200, [LEFT_WITHOUT_ADMIN])
    assert admins_of(tenant) == ["ada", "cy"]

    one = root.post(changelist, {"action": "delete_selected", "post": "yes",
                                 "_selected_action": [second.pk]})
    assert one.status_code == 302
    assert admins_of(tenant) == ["ada"]


def test_deleting_a_user_who_is_a_tenants_last_admin_is_refused(acme, root):
    tenant, admin = acme

    response = root.post(reverse("admin:accounts_user_delete", args=[admin.user.pk]),
                         {"post": "yes"})

    assert (response.status_code, response.context["protected"]) == (200, [LEFT_WITHOUT_ADMIN])
    assert User.objects.filter(username="ada").exists()


def tenant_form(tenant: Tenant, rows: list[dict], initial: int) -> dict:
    """The tenant change form with its membership rows."""
    data = {"organization": tenant.organization, "scan_policy": tenant.scan_policy,
            "quota_bytes": tenant.quota_bytes, "quota_files": tenant.quota_files,
            "trash_enabled": "on", "trash_restore_days": 30,
            "memberships-TOTAL_FORMS": len(rows), "memberships-INITIAL_FORMS": initial}
    for index, row in enumerate(rows):
        data.update({f"memberships-{index}-{name}": value for name, value in row.items()})
        data[f"memberships-{index}-tenant"] = tenant.pk
    return data


@pytest.mark.parametrize("admin_row", [{"role": Role.ADMIN, "DELETE": "on"},
                                       {"role": Role.MAINTAINER}])
def test_the_tenant_screen_keeps_an_admin(acme, root, admin_row):
    tenant, admin = acme
    bob = Membership.objects.get(user__username="bob")
    rows = [{"id": admin.pk, "user": "ada", **admin_row},
            {"id": bob.pk, "user": "bob", "role": Role.VIEWER}]
    change = reverse("admin:accounts_tenant_change", args=[tenant.pk])

    refused = root.post(change, tenant_form(tenant, rows, initial=2))

    assert refused.status_code == 200
    assert refused.context["inline_admin_formsets"][0].formset.non_form_errors() == [
        "acme would be left without an admin: a tenant keeps at least one."]
    assert admins_of(tenant) == ["ada"]

    rows[1]["role"] = Role.ADMIN  # bob becomes the admin in the same change
    assert root.post(change, tenant_form(tenant, rows, initial=2)).status_code == 302
    assert admins_of(tenant) == ["bob"]
