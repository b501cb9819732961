"""A tenant's scan policy, anonymous read and quotas: set by its admins (quotas by the
superuser) through `updateTenant` and the admin console's tenant screen."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from strawberry.relay import to_base64

from accounts.models import Membership, Role, Tenant
from tests.accounts.conftest import PASSWORD, bearer, login
from tests.accounts.world import build_world, database_snapshot

User = get_user_model()
UPDATE = """mutation($data: UpdateTenantInput!) { updateTenant(data: $data) {
  ... on Tenant { slug scanPolicy allowAnonymousRead quotaBytes quotaFiles }
  ... on OperationInfo { messages { kind code field message } } } }"""


@pytest.fixture
def alpha(db, default_tenant):
    return build_world("alpha")


@pytest.fixture
def root(default_tenant):
    user = User.objects.create_superuser("root", password=PASSWORD)
    Membership.objects.create(user=user, tenant=default_tenant, role=Role.ADMIN)
    return bearer(login("root")["accessToken"])


def as_admin_of(world):
    return bearer(login(world.admin.username, tenant=world.tenant.slug)["accessToken"])


def tenant_id(world) -> str:
    return to_base64("Tenant", world.tenant.pk)


def test_a_tenant_admin_sets_the_scan_policy_and_anonymous_read(alpha):
    result = as_admin_of(alpha)(UPDATE, {"data": {
        "id": tenant_id(alpha), "scanPolicy": "warn", "allowAnonymousRead": True}})

    assert result.data == {"updateTenant": {
        "slug": "alpha-corp", "scanPolicy": "warn", "allowAnonymousRead": True,
        "quotaBytes": alpha.tenant.quota_bytes, "quotaFiles": alpha.tenant.quota_files}}
    stored = Tenant.objects.get(pk=alpha.tenant.pk)
    assert (stored.scan_policy, stored.allow_anonymous_read) == ("warn", True)


def test_omitted_fields_stay_unchanged(alpha):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(scan_policy="warn")

    as_admin_of(alpha)(UPDATE, {"data": {"id": tenant_id(alpha), "allowAnonymousRead": True}})

    stored = Tenant.objects.get(pk=alpha.tenant.pk)
    assert (stored.scan_policy, stored.allow_anonymous_read) == ("warn", True)


def test_the_superuser_sets_quotas_beyond_32_bits(alpha, root):
    result = root(UPDATE, {"data": {"id": tenant_id(alpha), "quotaBytes": 5 * 2**40,
                                    "quotaFiles": 20}})

    assert result.data["updateTenant"]["quotaBytes"] == 5 * 2**40
    stored = Tenant.objects.get(pk=alpha.tenant.pk)
    assert (stored.quota_bytes, stored.quota_files) == (5 * 2**40, 20)


def test_a_tenant_admin_may_not_grant_itself_quota(alpha):
    client = as_admin_of(alpha)
    before = database_snapshot()

    result = client(UPDATE, {"data": {"id": tenant_id(alpha), "scanPolicy": "warn",
                                                  "quotaFiles": 10**6}})

    assert result.data == {"updateTenant": {"messages": [{
        "kind": "PERMISSION", "code": "permission_denied", "field": None,
        "message": "Only the superuser sets quotas."}]}}
    assert database_snapshot() == before


def test_a_member_who_is_not_admin_is_refused(alpha):
    member = bearer(login(alpha.member.username, tenant=alpha.tenant.slug)["accessToken"])
    before = database_snapshot()

    result = member(UPDATE, {"data": {"id": tenant_id(alpha), "scanPolicy": "warn"}})

    assert result.data == {"updateTenant": {"messages": [{
        "kind": "PERMISSION", "code": "permission_denied", "field": None,
        "message": "Only the tenant's admins may do this."}]}}
    assert database_snapshot() == before


@pytest.mark.parametrize(("change", "error"), [
    ({"quotaBytes": -1}, ("invalid_quota", "quotaBytes",
                          "Give a whole number from 0 to 9223372036854775807.")),
    ({"quotaFiles": -5}, ("invalid_quota", "quotaFiles",
                          "Give a whole number from 0 to 2147483647.")),
    ({"quotaBytes": 2**63}, ("invalid_quota", "quotaBytes",
                             "Give a whole number from 0 to 9223372036854775807.")),
    ({"scanPolicy": "ignore"}, ("invalid_choice", "scanPolicy",
                                "'ignore' is not one of block, warn.")),
])
def test_bad_values_are_refused_with_a_code_and_change_nothing(alpha, root, change, error):
    before = database_snapshot()

    result = root(UPDATE, {"data": {"id": tenant_id(alpha), "allowAnonymousRead": True,
                                    **change}})

    code, field, message = error
    assert result.data == {"updateTenant": {"messages": [
        {"kind": "VALIDATION", "code": code, "field": field, "message": message}]}}
    assert database_snapshot() == before


# --- The admin console's tenant screen ------------------------------------------------------

def tenant_form(tenant: Tenant, **changes) -> dict:
    """The tenant change form as the browser posts it, members unchanged."""
    memberships = list(tenant.memberships.select_related("user").order_by("pk"))
    data = {
        "organization": tenant.organization, "address": tenant.address, "email": tenant.email,
        "phone": tenant.phone, "scan_policy": tenant.scan_policy,
        "quota_bytes": tenant.quota_bytes, "quota_files": tenant.quota_files,
        "trash_enabled": "on", "trash_restore_days": 30,
        "memberships-TOTAL_FORMS": len(memberships),
        "memberships-INITIAL_FORMS": len(memberships),
        "memberships-MIN_NUM_FORMS": 0, "memberships-MAX_NUM_FORMS": 1000,
    }
    if tenant.allow_anonymous_read:
        data["allow_anonymous_read"] = "on"
    for index, membership in enumerate(memberships):
        data.update({f"memberships-{index}-id": membership.pk,
                     f"memberships-{index}-tenant": tenant.pk,
                     f"memberships-{index}-user": membership.user.username,
                     f"memberships-{index}-role": membership.role})
    return {**data, **changes}


def admin_client(user) -> Client:
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def change_url(tenant: Tenant) -> str:
    return reverse("admin:accounts_tenant_change", args=[tenant.pk])


def test_the_tenant_screen_shows_members_by_username(alpha):
    page = admin_client(alpha.admin).get(change_url(alpha.tenant)).content.decode()

    assert 'name="memberships-0-user" value="alpha-admin"' in page
    assert 'name="memberships-1-user" value="alpha-member"' in page


@pytest.mark.parametrize("who", ["superuser", "tenant admin"])
def test_a_tenant_with_members_saves_its_scan_policy(alpha, who):
    user = (User.objects.create_superuser("root", password=PASSWORD) if who == "superuser"
            else alpha.admin)

    response = admin_client(user).post(change_url(alpha.tenant), tenant_form(
        alpha.tenant, scan_policy="warn", allow_anonymous_read="on"))

    assert response.status_code == 302, response.context["adminform"].form.errors
    stored = Tenant.objects.get(pk=alpha.tenant.pk)
    assert (stored.scan_policy, stored.allow_anonymous_read) == ("warn", True)
    assert sorted(stored.memberships.values_list("user__username", "role")) == [
        ("alpha-admin", "admin"), ("alpha-member", "maintainer")]


def test_a_tenant_admin_sets_the_trash_on_the_tenant_screen(alpha):
    client = admin_client(alpha.admin)
    form = tenant_form(alpha.tenant)
    del form["trash_enabled"]  # unticked

    refused = client.post(change_url(alpha.tenant), {**form, "trash_restore_days": 366})
    saved = client.post(change_url(alpha.tenant), {**form, "trash_restore_days": 14})

    assert refused.context["adminform"].form.errors == {
        "trash_restore_days": ["Ensure this value is less than or equal to 365."]}
    assert saved.status_code == 302
    stored = Tenant.objects.get(pk=alpha.tenant.pk)
    assert (stored.trash_enabled, stored.trash_restore_days) == (False, 14)


def test_a_tenant_admin_changes_a_members_role_on_the_tenant_screen(alpha):
    form = tenant_form(alpha.tenant, **{"memberships-1-role": "viewer"})

    response = admin_client(alpha.admin).post(change_url(alpha.tenant), form)

    assert response.status_code == 302
    assert Membership.objects.get(user=alpha.member).role == "viewer"


def test_the_membership_screen_saves_an_unchanged_row(alpha):
    membership = alpha.membership
    url = reverse("admin:accounts_membership_change", args=[membership.pk])
    client = admin_client(User.objects.create_superuser("root", password=PASSWORD))

    page = client.get(url).content.decode()
    response = client.post(url, {"user": "alpha-member", "tenant": alpha.tenant.pk,
                                 "role": "viewer"})

    assert 'name="user" value="alpha-member"' in page
    assert response.status_code == 302
    assert Membership.objects.get(pk=membership.pk).role == "viewer"


def test_the_tenant_screen_shows_usage_against_the_quota_in_human_units(alpha):
    page = admin_client(alpha.admin).get(change_url(alpha.tenant)).content.decode()

    # The world's two files of 13 and 12 bytes, and its open 10-byte upload.
    assert ("25\xa0bytes of 1.0\xa0TB, 2 of 100000 files; open uploads: 1 (10\xa0bytes "
            "reserved)") in page


@pytest.mark.parametrize(("console", "is_staff"), [("on", True), (None, False)])
def test_a_new_tenants_admin_is_offered_console_access(default_tenant, console, is_staff):
    form = {"slug": "acme", "organization": "ACME", "scan_policy": "block",
            "quota_bytes": 2**30, "quota_files": 10, "admin_username": "wile",
            "trash_enabled": "on", "trash_restore_days": 30,
            "admin_password": "a long enough passphrase",
            "memberships-TOTAL_FORMS": 0, "memberships-INITIAL_FORMS": 0}
    if console:
        form["admin_console_access"] = console
    root = admin_client(User.objects.create_superuser("root", password=PASSWORD))

    response = root.post(reverse("admin:accounts_tenant_add"), form)

    assert response.status_code == 302
    assert User.objects.get(username="wile").is_staff is is_staff
    assert Membership.objects.get(user__username="wile").role == "admin"
