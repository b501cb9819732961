"""Creating and deleting tenants: the superuser's, through GraphQL, the admin and commands."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.test import Client
from strawberry.relay import to_base64

from accounts.models import ApiToken, LoginSession, Membership, Role, Tenant, TenantGroup
from registry.models import ArtifactFile, Blob, MetadataKey, RegisteredModel, Tag
from tests.accounts.conftest import PASSWORD, VIEWER, bearer, login
from tests.accounts.world import build_world, database_snapshot

User = get_user_model()
CREATE = """mutation($data: CreateTenantInput!) { createTenant(data: $data) {
  ... on Tenant { slug organization address email phone isDefault
                  members { edges { node { user { username } role } } } }
  ... on OperationInfo { messages { kind code field message } } } }"""
DELETE = """mutation($id: ID!, $confirm: String!) { deleteTenant(id: $id, confirmSlug: $confirm) {
  ... on Deletion { deletedId } ... on OperationInfo { messages { kind code field message } }
} }"""
ACME = {"slug": "acme", "organization": "ACME Corp", "address": "1 Road Runner Way",
        "email": "ops@acme.example", "phone": "+1 555 0100", "adminUsername": "wile",
        "adminPassword": "a long enough passphrase"}


@pytest.fixture
def root(default_tenant):
    user = User.objects.create_superuser("root", password=PASSWORD)
    Membership.objects.create(user=user, tenant=default_tenant, role=Role.ADMIN)
    return bearer(login("root")["accessToken"])


def test_the_superuser_creates_a_tenant_with_its_first_admin(root):
    result = root(CREATE, {"data": ACME})

    assert result.data == {"createTenant": {
        "slug": "acme", "organization": "ACME Corp", "address": "1 Road Runner Way",
        "email": "ops@acme.example", "phone": "+1 555 0100", "isDefault": False,
        "members": {"edges": [{"node": {"user": {"username": "wile"}, "role": "ADMIN"}}]}}}
    # The new admin logs straight into the new tenant.
    assert bearer(login("wile", "a long enough passphrase", tenant="acme")["accessToken"])(
        VIEWER).data == {"viewer": {"user": {"username": "wile"}, "tenant": {"slug": "acme"},
                                    "role": "ADMIN"}}


def test_an_existing_user_becomes_the_admin_without_a_password(root, maintainer):
    result = root(CREATE, {"data": {**ACME, "adminUsername": maintainer.username,
                                    "adminPassword": None}})

    assert result.data["createTenant"]["members"] == {"edges": [
        {"node": {"user": {"username": maintainer.username}, "role": "ADMIN"}}]}
    assert Membership.objects.filter(user=maintainer).count() == 2


@pytest.mark.parametrize(("change", "error"), [
    ({"slug": "Not A Slug"}, ("invalid_slug", "slug",
                              "Use 1-63 lowercase letters, digits and inner hyphens.")),
    ({"slug": "default"}, ("duplicate_slug", "slug", "A tenant 'default' exists already.")),
    ({"organization": " "}, ("invalid_tenant_field", "organization", "Give 1-200 characters.")),
    ({"email": "not-an-email"}, ("invalid_tenant_field", "email", "Not an email address.")),
    ({"phone": "call me maybe"}, ("invalid_tenant_field", "phone",
                                  "At most 40 digits, spaces and +()./-.")),
    ({"adminUsername": "bad name!"}, ("invalid_username", "adminUsername",
                                      "Enter a valid username. This value may contain only "
                                      "letters, numbers, and @/./+/-/_ characters.")),
    ({"adminPassword": "short"}, ("invalid_password", "adminPassword",
                                  "This password is too short. It must contain at least 8 "
                                  "characters.")),
    ({"adminPassword": None}, ("not_found", "adminUsername",
                               "No user 'wile'; give a password to create it.")),
])
def test_bad_tenant_requests_are_refused_and_change_nothing(change, error, root):
    before = database_snapshot()

    result = root(CREATE, {"data": {**ACME, **change}})

    code, field, message = error
    assert result.data == {"createTenant": {"messages": [
        {"kind": "VALIDATION", "code": code, "field": field, "message": message}]}}
    assert database_snapshot() == before


def test_a_password_never_changes_an_existing_user(root, maintainer):
    result = root(CREATE, {"data": {**ACME, "adminUsername": maintainer.username}})

    assert result.data == {"createTenant": {"messages": [{
        "kind": "VALIDATION", "code": "user_exists", "field": "adminPassword",
        "message": f"User {maintainer.username!r} exists already; omit the password."}]}}
    assert User.objects.get(pk=maintainer.pk).check_password(PASSWORD) is True
    assert Tenant.objects.filter(slug="acme").exists() is False


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MAINTAINER])
def test_only_the_superuser_creates_or_deletes_tenants(role, member_factory):
    caller = bearer(login(member_factory(role).username)["accessToken"])
    acme = build_world("acme")
    before = database_snapshot()

    created = caller(CREATE, {"data": {**ACME, "slug": "other"}})
    deleted = caller(DELETE, {"id": to_base64("Tenant", acme.tenant.pk),
                              "confirm": acme.tenant.slug})

    refusal = {"messages": [{"kind": "PERMISSION", "code": "permission_denied", "field": None,
                             "message": "Only the superuser may do this."}]}
    assert (created.data["createTenant"], deleted.data["deleteTenant"]) == (refusal, refusal)
    assert database_snapshot() == before


def test_deleting_a_tenant_removes_its_data_and_then_its_stored_files(
        root, django_capture_on_commit_callbacks):
    doomed, kept = build_world("doomed"), build_world("kept")
    doomed_keys = list(Blob.objects.filter(tenant=doomed.tenant)
                       .values_list("storage_key", flat=True))
    kept_keys = list(Blob.objects.filter(tenant=kept.tenant)
                     .values_list("storage_key", flat=True))
    doomed_login = login(doomed.member.username, tenant=doomed.tenant.slug)
    login(kept.member.username, tenant=kept.tenant.slug)
    assert all(default_storage.exists(key) for key in doomed_keys + kept_keys)

    with django_capture_on_commit_callbacks(execute=True):
        result = root(DELETE, {"id": to_base64("Tenant", doomed.tenant.pk),
                               "confirm": "doomed-corp"})

    assert result.data == {"deleteTenant": {"deletedId": to_base64("Tenant", doomed.tenant.pk)}}
    assert list(Tenant.objects.values_list("slug", flat=True)) == ["default", "kept-corp"]
    for model in (RegisteredModel, ArtifactFile, Blob, Tag, MetadataKey, Membership,
                  TenantGroup, ApiToken, LoginSession):
        assert model.objects.filter(tenant_id=doomed.tenant.pk).count() == 0, model
        assert model.objects.filter(tenant_id=kept.tenant.pk).count() > 0, model
    assert TenantGroup.objects.count() == 1
    assert [default_storage.exists(key) for key in doomed_keys] == [False, False]
    assert [default_storage.exists(key) for key in kept_keys] == [True, True]
    # Its users stay (they are the instance's), but their way into the tenant is gone.
    assert User.objects.filter(username="doomed-member").exists() is True
    assert bearer(doomed_login["accessToken"])(VIEWER).status_code == 401


@pytest.mark.parametrize(("target", "confirm", "error"), [
    ("doomed", "doomed", ("confirmation_mismatch", "confirmSlug",
                          "Repeat the tenant's slug to confirm.")),
    ("default", "default", ("default_tenant", "id", "The default tenant cannot be deleted.")),
    ("missing", "missing", ("not_found", "id", "Not found.")),
])
def test_deletion_needs_the_slug_and_spares_the_default_tenant(target, confirm, error, root):
    build_world("doomed")
    tenant_id = {"doomed": Tenant.objects.get(slug="doomed-corp").pk,
                 "default": Tenant.objects.get(is_default=True).pk, "missing": 987654}[target]
    before = database_snapshot()

    result = root(DELETE, {"id": to_base64("Tenant", tenant_id), "confirm": confirm})

    code, field, message = error
    assert result.data == {"deleteTenant": {"messages": [
        {"kind": "VALIDATION", "code": code, "field": field, "message": message}]}}
    assert database_snapshot() == before


def test_management_commands_create_and_delete_tenants(default_tenant, capsys):
    call_command("create_tenant", "acme", "--organization", "ACME Corp",
                 "--admin-username", "wile")
    printed = capsys.readouterr().out
    password = printed.split("Tenant admin login: wile / ")[1].strip()

    assert Tenant.objects.get(slug="acme").organization == "ACME Corp"
    assert login("wile", password, tenant="acme")["tenantSlug"] == "acme"
    with pytest.raises(CommandError, match="Repeat the tenant's slug to confirm."):
        call_command("delete_tenant", "acme", "--confirm", "acne")
    with pytest.raises(CommandError, match="The default tenant cannot be deleted."):
        call_command("delete_tenant", "default", "--confirm", "default")
    with pytest.raises(CommandError, match="A tenant 'acme' exists already."):
        call_command("create_tenant", "acme", "--organization", "Again",
                     "--admin-username", "wile")

    call_command("delete_tenant", "acme", "--confirm", "acme")

    assert list(Tenant.objects.values_list("slug", flat=True)) == ["default"]


def test_the_admin_console_creates_and_deletes_tenants(default_tenant,
                                                        django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(User.objects.create_superuser("root", password=PASSWORD))

    response = client.post("/admin/accounts/tenant/add/", {
        "slug": "acme", "organization": "ACME Corp", "scan_policy": "block",
        "quota_bytes": 1000, "quota_files": 10, "admin_username": "wile",
        "trash_enabled": "on", "trash_restore_days": 30,
        "admin_password": "a long enough passphrase",
        "memberships-TOTAL_FORMS": 0, "memberships-INITIAL_FORMS": 0,
    })
    acme = Tenant.objects.get(slug="acme")
    assert response.status_code == 302
    assert Membership.objects.get(tenant=acme).user.username == "wile"

    refused = client.post("/admin/accounts/tenant/add/", {
        "slug": "acme2", "organization": "Again", "scan_policy": "block", "quota_bytes": 1,
        "quota_files": 1, "admin_username": "wile", "admin_password": "another passphrase",
        "trash_enabled": "on", "trash_restore_days": 30,
        "memberships-TOTAL_FORMS": 0, "memberships-INITIAL_FORMS": 0,
    })
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {
        "admin_password": ["User 'wile' exists already; omit the password."]}
    bad_phone = client.post("/admin/accounts/tenant/add/", {
        "slug": "acme3", "organization": "Again", "scan_policy": "block", "quota_bytes": 1,
        "quota_files": 1, "admin_username": "root", "phone": "call me maybe",
        "trash_enabled": "on", "trash_restore_days": 30,
        "memberships-TOTAL_FORMS": 0, "memberships-INITIAL_FORMS": 0,
    })
    assert bad_phone.context["adminform"].form.errors == {
        "phone": ["At most 40 digits, spaces and +()./-."]}
    assert Tenant.objects.filter(slug__in=["acme2", "acme3"]).exists() is False

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/accounts/tenant/{acme.pk}/delete/", {"post": "yes"})
    assert Tenant.objects.filter(slug="acme").exists() is False
    default_delete = client.get(f"/admin/accounts/tenant/{default_tenant.pk}/delete/")
    assert default_delete.status_code == 403
