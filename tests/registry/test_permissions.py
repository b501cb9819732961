"""Sharing semantics and the read paths beyond the matrix: levels, grantees of the tenant
only, groups of other tenants, the `users` shorthand, search, `findModelVersion`, filters,
mutation payloads, the optimizer on and off, and query counts."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.core import ObjectPermissionChecker
from strawberry.relay import to_base64
from strawberry_django.optimizer import DjangoOptimizerExtension

from accounts.actor import Actor
from accounts.models import Role
from accounts.selectors import actor_for
from accounts.services import member_add, member_remove, tenant_group_create
from config.graphql_context import RegistryContext
from config.schema import schema
from registry import models, selectors, services
from registry.models import AccessLevel, Visibility
from tests.factories import (
    DatasetFactory,
    DatasetVersionFactory,
    MembershipFactory,
    ModelVersionFactory,
    RegisteredModelFactory,
    UserFactory,
)
from tests.registry.permissions_world import build_world, catalog_state, gid

SHARE = """mutation($id: ID!, $users: [ID!], $groups: [ID!], $permission: PermissionLevel!) {
  shareObject(id: $id, users: $users, groups: $groups, permission: $permission) {
    __typename
    ... on Sharing { object { __typename ... on RegisteredModel { name } ... on Dataset { name } }
                     grants { permission user { username } group { name } } }
    ... on OperationInfo { messages { kind code field message } } } }"""
UNSHARE = SHARE.replace("shareObject", "unshareObject")


def _levels(entry) -> dict[str, str]:
    """Each grantee's highest level, as `shareObject` reports it."""
    return {(grant.user.username if grant.user else f"group:{grant.group.name}"): grant.level
            for grant in selectors.catalog_entry_grants(entry)}


def _user(username: str, **fields):
    return UserFactory(username=username, password=None, **fields)


@pytest.mark.django_db
def test_levels_are_cumulative_and_guardian_agrees():
    world = build_world(Visibility.PRIVATE)
    owner = world.graphql("owner")
    viewer = world.users["viewer"]

    shared = owner(SHARE, {"id": gid(world.model), "users": [gid(viewer)],
                           "permission": "MANAGE"})
    demoted = owner(UNSHARE, {"id": gid(world.model), "users": [gid(viewer)],
                              "permission": "MANAGE"})
    checker_after_demotion = sorted(ObjectPermissionChecker(viewer).get_perms(world.model))
    withdrawn = owner(UNSHARE, {"id": gid(world.model), "users": [gid(viewer)],
                                "permission": "VIEW"})

    assert shared.data["shareObject"]["object"] == {"__typename": "RegisteredModel",
                                                    "name": "subject-model"}
    assert {"permission": "MANAGE", "user": {"username": "viewer"}, "group": None} in (
        shared.data["shareObject"]["grants"])
    assert {"permission": "CHANGE", "user": {"username": "viewer"}, "group": None} in (
        demoted.data["unshareObject"]["grants"])
    assert checker_after_demotion == ["change_registeredmodel", "view_registeredmodel"]
    assert withdrawn.data["unshareObject"]["grants"] == [
        {"permission": "CHANGE", "user": {"username": "change_grantee"}, "group": None},
        {"permission": "VIEW", "user": {"username": "shared_user"}, "group": None},
        {"permission": "MANAGE", "user": None, "group": {"name": "managers"}},
        {"permission": "VIEW", "user": None, "group": {"name": "readers"}},
    ]
    assert ObjectPermissionChecker(viewer).get_perms(world.model) == []


@pytest.mark.django_db
def test_a_grant_takes_effect_and_sharing_again_is_idempotent():
    world = build_world(Visibility.PRIVATE)
    owner, viewer = world.graphql("owner"), world.users["viewer"]
    actor = world.actor("viewer")

    visible_before = selectors.models_visible_to(actor).filter(pk=world.model.pk).exists()
    owner(SHARE, {"id": gid(world.model), "users": [gid(viewer)], "permission": "CHANGE"})
    rows = catalog_state()["model user grants"]
    owner(SHARE, {"id": gid(world.model), "users": [gid(viewer)], "permission": "VIEW"})

    assert visible_before is False
    assert selectors.models_visible_to(actor).filter(pk=world.model.pk).exists() is True
    assert selectors.can_change(actor, world.model) is True
    assert selectors.can_manage(actor, world.model) is False
    assert catalog_state()["model user grants"] == rows


@pytest.mark.django_db
@pytest.mark.parametrize("grantee", ["user_of_other_tenant", "group_of_other_tenant",
                                     "unknown_user", "tag_as_user"])
def test_grantees_outside_the_tenant_are_not_found_and_nothing_is_shared(grantee):
    world = build_world(Visibility.PRIVATE)
    foreign_group = tenant_group_create(tenant=world.other_tenant, name="readers")
    tag = models.Tag.objects.create(tenant=world.tenant, name="vision")
    variables = {
        # a valid grantee alongside: the call is refused as a whole
        "user_of_other_tenant": {"users": [gid(world.users["viewer"]),
                                           gid(world.users["other_tenant"])]},
        "group_of_other_tenant": {"users": [gid(world.users["viewer"])],
                                  "groups": [gid(foreign_group)]},
        "unknown_user": {"users": ["VXNlcjo5OTk5OTk="]},  # User:999999
        "tag_as_user": {"users": [to_base64("Tag", tag.pk)]},
    }[grantee]
    field = "groups" if grantee == "group_of_other_tenant" else "users"
    before = catalog_state()

    result = world.graphql("owner")(SHARE, {"id": gid(world.model), "permission": "VIEW",
                                            **variables})

    assert result.data["shareObject"] == {"__typename": "OperationInfo", "messages": [
        {"kind": "VALIDATION", "code": "not_found", "field": field, "message": "Not found."}]}
    assert catalog_state() == before


@pytest.mark.django_db
def test_datasets_are_shared_with_groups_like_models():
    world = build_world(Visibility.PRIVATE)
    colleague = world.users["viewer"]
    analysts = tenant_group_create(tenant=world.tenant, name="analysts")
    analysts.group.user_set.add(colleague)

    result = world.graphql("manage_grantee")(SHARE, {
        "id": gid(world.dataset), "groups": [gid(analysts)], "permission": "VIEW"})

    assert result.data["shareObject"]["object"] == {"__typename": "Dataset",
                                                    "name": "subject-dataset"}
    assert selectors.datasets_visible_to(world.actor("viewer")).filter(
        pk=world.dataset.pk).exists() is True


@pytest.mark.django_db
def test_groups_of_another_tenant_grant_nothing_here():
    """A user in tenants A and B, in a group of B that (bypassing the services) holds a grant
    on an object of A, does not see it while acting in A."""
    world = build_world(Visibility.PRIVATE)
    commuter = _user("commuter")
    MembershipFactory(user=commuter, tenant=world.tenant, role=Role.VIEWER)
    MembershipFactory(user=commuter, tenant=world.other_tenant, role=Role.VIEWER)
    foreign = tenant_group_create(tenant=world.other_tenant, name="foreigners")
    foreign.group.user_set.add(commuter)
    models.RegisteredModelGroupObjectPermission.objects.create(
        group=foreign.group, content_object=world.model,
        permission=services._permissions(world.model, ["view_registeredmodel"])[0])

    in_a = actor_for(user=commuter, tenant=world.tenant)
    in_b = actor_for(user=commuter, tenant=world.other_tenant)

    assert in_a.group_ids == frozenset({foreign.group_id})
    assert selectors.models_visible_to(in_a).filter(pk=world.model.pk).exists() is False
    assert selectors.models_visible_to(in_b).filter(pk=world.model.pk).exists() is False
    assert _levels(world.model) == {"change_grantee": "change", "shared_user": "view",
                                    "group:managers": "manage", "group:readers": "view"}


@pytest.mark.django_db
def test_tenant_groups_count_only_in_their_tenant():
    """A reader of A's group, acting in tenant B where they are also a member, sees nothing
    of A."""
    world = build_world(Visibility.PRIVATE)
    reader = world.users["group_member"]
    MembershipFactory(user=reader, tenant=world.other_tenant, role=Role.ADMIN)

    in_b = actor_for(user=reader, tenant=world.other_tenant)

    assert selectors.models_visible_to(in_b).count() == 0
    assert selectors.files_visible_to(in_b).count() == 0


@pytest.mark.django_db
def test_users_shorthand_shares_and_withdraws_view():
    world = build_world(Visibility.PRIVATE)
    update = """mutation($data: UpdateModelInput!) { updateModel(data: $data) {
      __typename ... on OperationInfo { messages { code field } } } }"""
    owner = world.graphql("owner")

    owner(update, {"data": {"id": gid(world.model), "users": {
        "add": [gid(world.users["viewer"])], "remove": [gid(world.users["change_grantee"])]}}})
    refused = owner(update, {"data": {"id": gid(world.model), "users": {
        "add": [gid(world.users["other_tenant"])]}}})

    assert _levels(world.model) == {"shared_user": "view", "viewer": "view",
                                    "group:managers": "manage", "group:readers": "view"}
    assert refused.data["updateModel"] == {"__typename": "OperationInfo", "messages": [
        {"code": "not_found", "field": "users"}]}


@pytest.mark.django_db
def test_share_service_checks_level_count_and_token_scope():
    world = build_world(Visibility.PRIVATE)
    owner = world.actor("owner")
    read_only = Actor(user=owner.user, tenant=owner.tenant, role=owner.role,
                      scopes=frozenset({"read"}), group_ids=owner.group_ids)
    share = {"entry_class": models.RegisteredModel, "entry_id": world.model.pk}
    before = catalog_state()

    with pytest.raises(Exception) as invalid_level:
        services.catalog_entry_share(actor=owner, level="owner",
                                     user_ids=[world.users["viewer"].pk], **share)
    with pytest.raises(Exception) as too_many:
        services.catalog_entry_share(actor=owner, level=AccessLevel.VIEW,
                                     user_ids=range(1, 1002), **share)
    with pytest.raises(Exception) as read_only_token:
        services.catalog_entry_share(actor=read_only, level=AccessLevel.VIEW,
                                     user_ids=[world.users["viewer"].pk], **share)

    assert invalid_level.value.error_dict["permission"][0].code == "invalid_choice"
    assert too_many.value.error_dict["users"][0].code == "too_many_items"
    assert read_only_token.value.code == "read_only_token"
    assert catalog_state() == before


@pytest.mark.django_db
def test_anonymous_sees_nothing_unless_the_tenant_allows_it():
    world = build_world(Visibility.PUBLIC)
    world.tenant.allow_anonymous_read = False
    world.tenant.save(update_fields=["allow_anonymous_read"])

    data = world.graphql("anonymous")("""{ models { totalCount } datasets { totalCount }
      findModelVersion(name: "subject-model") { id } }""").data

    assert data == {"models": {"totalCount": 0}, "datasets": {"totalCount": 0},
                    "findModelVersion": None}


@pytest.mark.django_db
@pytest.mark.parametrize(("caller", "expected"), [
    ("viewer", {"totalCount": 0, "edges": []}),
    ("shared_user", {"totalCount": 1, "edges": [{"node": {"name": "subject-model"}}]}),
    ("other_tenant", {"totalCount": 0, "edges": []}),
])
def test_search_filters_and_find_model_version_respect_visibility(caller, expected):
    world = build_world(Visibility.PRIVATE)
    services.catalog_entry_update(entry_class=models.RegisteredModel,
                                  actor=world.actor("owner"), entry_id=world.model.pk,
                                  description="classified radar detector",
                                  tags=services.ListChanges(add=["radar"]))
    query = """{
      search: models(filters: {search: "radar"}) { totalCount edges { node { name } } }
      tagged: models(filters: {tags: ["radar"]}) { totalCount edges { node { name } } }
      named: models(filters: {name: {exact: "subject-model"}}) {
        totalCount edges { node { name } } }
      found: findModelVersion(name: "subject-model") { model { name } }
      alias: findModelVersion(alias: "champion") { version }
    }"""

    data = world.graphql(caller)(query).data

    visible = expected["totalCount"] == 1
    assert data == {"search": expected, "tagged": expected, "named": expected,
                    "found": {"model": {"name": "subject-model"}} if visible else None,
                    "alias": {"version": "1.0.0"} if visible else None}


@pytest.mark.django_db
def test_a_mutation_payload_hides_lineage_the_caller_may_not_see():
    """The change grantee edits the subject model, which was also trained on a dataset
    private to its owner: the payload's nested relations leave that dataset out."""
    world = build_world(Visibility.PRIVATE)
    secret = DatasetFactory(tenant=world.tenant, owner=world.users["owner"], name="secret",
                            visibility=Visibility.PRIVATE)
    secret_version = DatasetVersionFactory(dataset=secret, version="1.0.0")
    world.model.datasets.add(secret)
    world.model_version.dataset_versions.add(secret_version)
    query = """mutation($id: ID!) { updateModel(data: {id: $id, description: "tuned"}) {
      ... on RegisteredModel { datasets { name }
        latestVersion { datasetVersions { dataset { name } } } } } }"""

    payload = world.graphql("change_grantee")(query, {"id": gid(world.model)}).data

    assert payload == {"updateModel": {
        "datasets": [{"name": "subject-dataset"}],
        "latestVersion": {"datasetVersions": [{"dataset": {"name": "public-dataset"}}]},
    }}


NESTED = """query($id: ID!) { node(id: $id) { ... on Dataset {
  models { name datasets { name } }
  versions { edges { node { modelVersions { model { name } } } } } } } }"""


@pytest.mark.django_db
@pytest.mark.parametrize("optimizer", ["on", "off"])
def test_nested_relations_are_restricted_with_and_without_the_optimizer(optimizer):
    """From a public dataset: the models trained on it and their other datasets, private
    ones left out, whether the optimizer prefetches them or each field queries."""
    world = build_world(Visibility.PRIVATE)
    public_dataset = world.public_dataset_version.dataset
    world.public_model.datasets.add(public_dataset)
    world.model.datasets.add(public_dataset)
    public_version = world.public_model.versions.get()
    public_version.dataset_versions.add(world.public_dataset_version)
    context = RegistryContext(request=None, response=None, actor=world.actor("viewer"))

    if optimizer == "off":
        with DjangoOptimizerExtension.disabled():
            result = schema.execute_sync(NESTED, {"id": gid(public_dataset)},
                                         context_value=context)
    else:
        result = schema.execute_sync(NESTED, {"id": gid(public_dataset)},
                                     context_value=context)

    assert result.errors is None
    assert result.data == {"node": {
        "models": [{"name": "public-model", "datasets": [{"name": "public-dataset"}]}],
        "versions": {"edges": [{"node": {"modelVersions": [
            {"model": {"name": "public-model"}}]}}]},
    }}


PAGE = """query($first: Int!) { models(first: $first) { totalCount edges { node {
  name owner { username } tags { name } latestVersion { version }
  datasets { name } metadata { name value } } } } }"""


def _page_queries(actor, first: int) -> int:
    cache.clear()  # count the queries of a page that finds no remembered grant hint
    context = RegistryContext(request=None, response=None, actor=actor)
    with CaptureQueriesContext(connection) as captured:
        result = schema.execute_sync(PAGE, {"first": first}, context_value=context)
    assert result.errors is None
    assert len(result.data["models"]["edges"]) == first
    return len(captured.captured_queries)


@pytest.mark.django_db
def test_a_page_costs_the_same_queries_whatever_its_size_for_a_grantee_in_groups(
        default_tenant):
    owner = _user("owner")
    reader = _user("reader")
    for user, role in ((owner, Role.MAINTAINER), (reader, Role.VIEWER)):
        MembershipFactory(user=user, tenant=default_tenant, role=role)
    readers = tenant_group_create(tenant=default_tenant, name="readers")
    readers.group.user_set.add(reader)
    owner_actor = actor_for(user=owner, tenant=default_tenant)
    for index in range(12):
        model = RegisteredModelFactory(tenant=default_tenant, owner=owner,
                                       visibility=Visibility.PRIVATE)
        ModelVersionFactory(model=model, version="1.0.0")
        model.datasets.add(DatasetFactory(tenant=default_tenant, owner=owner))
        services.catalog_entry_update(entry_class=models.RegisteredModel, actor=owner_actor,
                                      entry_id=model.pk, tags=services.ListChanges(add=["a"]),
                                      metadata={"team": "vision"})
        by_user, by_group = ([reader.pk], []) if index % 2 else ([], [readers.pk])
        services.catalog_entry_share(entry_class=models.RegisteredModel, actor=owner_actor,
                                     entry_id=model.pk, level=AccessLevel.VIEW,
                                     user_ids=by_user, group_ids=by_group)
    actor = actor_for(user=reader, tenant=default_tenant)

    assert _page_queries(actor, 2) == _page_queries(actor, 12)


@pytest.mark.django_db
def test_leaving_the_tenant_drops_the_grants_there_and_only_there():
    world = build_world(Visibility.PRIVATE)
    shared_user = world.users["shared_user"]
    MembershipFactory(user=shared_user, tenant=world.other_tenant, role=Role.MAINTAINER)
    elsewhere = RegisteredModelFactory(tenant=world.other_tenant, owner=world.users["other_tenant"],
                                       visibility=Visibility.PRIVATE)
    services.catalog_entry_share(entry_class=models.RegisteredModel,
                                 actor=world.actor("other_tenant"), entry_id=elsewhere.pk,
                                 level=AccessLevel.VIEW, user_ids=[shared_user.pk])
    admin = world.actor("tenant_admin")
    # Back by the superuser's hand: a tenant admin may not enlist a user of another tenant.
    superuser = actor_for(user=UserFactory(is_superuser=True), tenant=world.tenant)

    member_remove(actor=admin, user_id=shared_user.pk)
    member_add(actor=superuser, username=shared_user.username, role=Role.VIEWER)

    assert "shared_user" not in _levels(world.model)
    assert "shared_user" not in _levels(world.dataset)
    assert _levels(elsewhere) == {"shared_user": "view"}
    assert selectors.models_visible_to(world.actor("shared_user")).filter(
        pk=world.model.pk).exists() is False


def _page_and_count(actor) -> tuple[list[str], int, list[str]]:
    context = RegistryContext(request=None, response=None, actor=actor)
    with CaptureQueriesContext(connection) as captured:
        result = schema.execute_sync(
            "{ models(first: 10, order: {name: ASC}) { totalCount edges { node { name } } } }",
            context_value=context)
    assert result.errors is None
    names = [edge["node"]["name"] for edge in result.data["models"]["edges"]]
    return names, result.data["models"]["totalCount"], [q["sql"] for q in captured.captured_queries]


@pytest.mark.django_db
@pytest.mark.parametrize(("many_grants", "page_form", "count_form"), [
    (10_000, "hashed", "listed"), (2, "probed", "hashed")])
def test_how_a_list_reads_grants_depends_on_their_number_not_what_it_shows(
        default_tenant, monkeypatch, many_grants, page_form, count_form):
    monkeypatch.setattr(selectors, "MANY_GRANTS", many_grants)
    cache.clear()  # the remembered answer of an earlier test's user with the same id
    owner, reader = _user("owner"), _user("reader")
    for user, role in ((owner, Role.MAINTAINER), (reader, Role.VIEWER)):
        MembershipFactory(user=user, tenant=default_tenant, role=role)
    readers = tenant_group_create(tenant=default_tenant, name="readers")
    readers.group.user_set.add(reader)
    owner_actor = actor_for(user=owner, tenant=default_tenant)
    for name, visibility, by_user, by_group in (
            ("a-shared", Visibility.PRIVATE, [reader.pk], []),
            ("b-hidden", Visibility.PRIVATE, [], []),
            ("c-group", Visibility.PRIVATE, [], [readers.pk]),
            ("d-public", Visibility.PUBLIC, [], []),
            ("e-shared", Visibility.PRIVATE, [reader.pk], []),
            ("f-hidden", Visibility.PRIVATE, [], [])):
        model = RegisteredModelFactory(tenant=default_tenant, owner=owner, name=name,
                                       visibility=visibility)
        if by_user or by_group:
            services.catalog_entry_share(entry_class=models.RegisteredModel, actor=owner_actor,
                                         entry_id=model.pk, level=AccessLevel.VIEW,
                                         user_ids=by_user, group_ids=by_group)

    names, total, (decision_sql, page_sql, count_sql) = _page_and_count(
        actor_for(user=reader, tenant=default_tenant))

    assert names == ["a-shared", "c-group", "d-public", "e-shared"]
    assert total == 4
    assert decision_sql.startswith("SELECT (EXISTS(")
    listed = "= ANY(ARRAY(SELECT" if connection.vendor == "postgresql" else "IN (SELECT"
    forms = {"probed": "OFFSET 0)", "hashed": '"id" IN (SELECT', "listed": listed}
    assert forms[page_form] in page_sql
    assert forms[count_form] in count_sql
    assert (forms["probed"] in page_sql) == (page_form == "probed")
    assert forms["probed"] not in count_sql
