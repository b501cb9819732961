"""The admin console under the API's rules for staff members who are not tenant admins:
changelists and change views show what they may see, change what they may change, delete
and share what they manage; guardian's object permission pages share through the services.
"""

import pytest
from django.urls import reverse

from registry import models, selectors
from registry.models import RegisteredModel, Visibility
from tests.registry.permissions_world import build_world, catalog_state

STAFF = ["viewer", "shared_user", "change_grantee", "manage_grantee", "tenant_admin",
         "other_tenant", "superuser"]
# caller: (models listed, change view of the subject, its delete view, its permissions page)
EXPECTED = {
    "viewer":         (["public-model"], "missing", "403", "404"),
    "shared_user":    (["public-model", "subject-model"], "read-only", "403", "404"),
    "change_grantee": (["public-model", "subject-model"], "editable", "403", "404"),
    "manage_grantee": (["public-model", "subject-model"], "editable", "200", "200"),
    "tenant_admin":   (["public-model", "subject-model"], "editable", "200", "200"),
    "other_tenant":   ([], "missing", "missing", "404"),
    "superuser":      (["public-model", "subject-model"], "editable", "200", "200"),
}


def _admin_client(world, caller: str):
    user = world.users[caller]
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = world.http(caller)
    session = client.session
    session["tenant_slug"] = world.tenant_of(caller).slug
    session.save()
    return client


def _change_view(client, url: str) -> str:
    response = client.get(url)
    if response.status_code == 302:  # the admin's "does not exist" redirect
        return "missing"
    assert response.status_code == 200
    return "editable" if response.context["has_change_permission"] else "read-only"


def _status(client, url: str) -> str:
    response = client.get(url)
    return "missing" if response.status_code == 302 else str(response.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize("caller", STAFF)
def test_staff_see_change_delete_and_share_what_the_api_allows(caller):
    world = build_world(Visibility.PRIVATE)
    client = _admin_client(world, caller)
    pk = world.model.pk

    changelist = client.get(reverse("admin:registry_registeredmodel_changelist"))
    listed = sorted(str(entry) for entry in changelist.context["cl"].result_list)
    outcome = (
        listed,
        _change_view(client, reverse("admin:registry_registeredmodel_change", args=[pk])),
        _status(client, reverse("admin:registry_registeredmodel_delete", args=[pk])),
        _status(client, reverse("admin:registry_registeredmodel_permissions", args=[pk])),
    )

    assert outcome == EXPECTED[caller]


@pytest.mark.django_db
def test_a_hidden_object_looks_like_a_missing_one():
    world = build_world(Visibility.PRIVATE)
    client = _admin_client(world, "viewer")
    missing_pk = RegisteredModel.objects.order_by("-pk").first().pk + 1000

    hidden = client.get(reverse("admin:registry_registeredmodel_change",
                                args=[world.model.pk]), follow=True)
    missing = client.get(reverse("admin:registry_registeredmodel_change", args=[missing_pk]),
                         follow=True)
    delete_statuses = [client.get(reverse("admin:registry_registeredmodel_delete",
                                          args=[pk])).status_code
                       for pk in (world.model.pk, missing_pk)]
    permission_statuses = [client.get(reverse("admin:registry_registeredmodel_permissions",
                                              args=[pk])).status_code
                           for pk in (world.model.pk, missing_pk)]

    assert [str(m) for m in hidden.context["messages"]] == [
        f"registered model with ID “{world.model.pk}” doesn’t exist. Perhaps it was deleted?"]
    assert [str(m) for m in missing.context["messages"]] == [
        f"registered model with ID “{missing_pk}” doesn’t exist. Perhaps it was deleted?"]
    assert delete_statuses == [403, 403]
    assert permission_statuses == [404, 404]


def _change_form(world, **changes) -> dict:
    model = world.model
    return {"name": model.name, "project_name": "", "description": model.description,
            "readme": "", "status": model.status, "visibility": model.visibility,
            "license": "", "author": "", "organization": "", "category": "",
            "architecture": "", "framework": "", **changes}


@pytest.mark.django_db
def test_a_change_grantee_edits_fields_but_not_visibility_or_relations():
    world = build_world(Visibility.PRIVATE)
    client = _admin_client(world, "change_grantee")
    url = reverse("admin:registry_registeredmodel_change", args=[world.model.pk])

    form = client.get(url).context["adminform"].form
    response = client.post(url, _change_form(world, description="tuned in the admin",
                                             visibility="public"))

    assert sorted(form.fields) == ["architecture", "author", "category", "description",
                                   "framework", "license", "name", "organization",
                                   "project_name", "readme", "status"]
    assert response.status_code == 302
    world.model.refresh_from_db()
    assert (world.model.description, world.model.visibility) == ("tuned in the admin",
                                                                 "private")


@pytest.mark.django_db
def test_a_manager_deletes_through_the_service_and_a_viewer_may_not():
    world = build_world(Visibility.PRIVATE)
    url = reverse("admin:registry_registeredmodel_delete", args=[world.model.pk])
    shared_user = _admin_client(world, "shared_user")
    before = catalog_state()

    refused = shared_user.post(url, {"post": "yes"})
    unchanged = catalog_state()
    deleted = _admin_client(world, "manage_grantee").post(url, {"post": "yes"})

    assert refused.status_code == 403
    assert unchanged == before
    assert deleted.status_code == 302
    assert RegisteredModel.objects.filter(pk=world.model.pk).exists() is False
    assert models.Blob.objects.filter(pk=world.file.blob_id).exists() is False


@pytest.mark.django_db
def test_bulk_delete_is_for_tenant_admins_only():
    world = build_world(Visibility.PRIVATE)
    url = reverse("admin:registry_registeredmodel_changelist")
    action = {"action": "delete_selected", "_selected_action": [world.model.pk],
              "post": "yes"}

    manager = _admin_client(world, "manage_grantee")
    action_form = manager.get(url).context["action_form"]
    manager.post(url, action)
    kept = RegisteredModel.objects.filter(pk=world.model.pk).exists()
    _admin_client(world, "tenant_admin").post(url, action)

    assert action_form is None
    assert kept is True
    assert RegisteredModel.objects.filter(pk=world.model.pk).exists() is False


@pytest.mark.django_db
def test_the_permissions_page_shares_through_the_services():
    world = build_world(Visibility.PRIVATE)
    client = _admin_client(world, "manage_grantee")
    base = reverse("admin:registry_registeredmodel_permissions", args=[world.model.pk])
    viewer, other = world.users["viewer"], world.users["other_tenant"]

    chosen = client.post(base, {"user": "viewer", "submit_manage_user": "1"})
    foreign = client.post(base, {"user": "other_tenant", "submit_manage_user": "1"})
    client.post(f"{base}user-manage/{viewer.pk}/", {"permission": "change"})
    client.post(f"{base}group-manage/{world.groups['readers'].group_id}/",
                {"permission": ""})
    foreign_page = client.get(f"{base}user-manage/{other.pk}/")
    viewer_page = client.get(f"{base}user-manage/{viewer.pk}/")

    assert chosen.status_code == 302
    assert chosen.url == f"{base}user-manage/{viewer.pk}/"
    assert foreign.status_code == 200
    assert foreign.context["user_form"].errors == {
        "user": ["No member of this tenant has this username."]}
    assert foreign_page.status_code == 404
    assert viewer_page.context["form"]["permission"].initial == "change"
    grants = {(g.user.username if g.user else g.group.name): g.level
              for g in selectors.catalog_entry_grants(world.model)}
    assert grants == {"change_grantee": "change", "shared_user": "view", "viewer": "change",
                      "managers": "manage"}


@pytest.mark.django_db
def test_a_non_manager_cannot_reach_the_permission_forms():
    world = build_world(Visibility.PRIVATE)
    client = _admin_client(world, "change_grantee")
    base = reverse("admin:registry_registeredmodel_permissions", args=[world.model.pk])
    before = catalog_state()

    page = client.post(f"{base}user-manage/{world.users['viewer'].pk}/",
                       {"permission": "manage"})

    assert page.status_code == 404
    assert catalog_state() == before
