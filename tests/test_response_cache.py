"""The GraphQL response cache: a repeated read is answered from the cache with the same bytes,
and every kind of committed write makes the next read compute its answer afresh."""

import json

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from prometheus_client import REGISTRY

from accounts import services as account_services
from accounts.models import Membership, Role
from accounts.selectors import actor_for
from config import response_cache
from registry import services
from registry.models import ArtifactFile, RegisteredModel, ScanStatus, Tag, Visibility
from tests.factories import ModelVersionFactory, artifact_file

PAGE = ("query Page($first: Int!) { models(order: {name: ASC}, first: $first) { totalCount"
        " edges { node { id name description visibility tags { name usageCount }"
        " latestVersion { version scanStatus } } } } }")


@pytest.fixture(autouse=True)
def cache_on(settings):
    settings.GRAPHQL_RESPONSE_CACHE = True
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def hits(monkeypatch) -> list:
    """The answers served from the cache."""
    served = []
    original = response_cache.hit_response

    def counting(found):
        served.append(found.key)
        return original(found)

    monkeypatch.setattr(response_cache, "hit_response", counting)
    return served


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Runs the on-commit callbacks of the writes inside, as their commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def admin(member_factory):
    return member_factory(Role.ADMIN)


@pytest.fixture
def viewer(member_factory):
    return member_factory(Role.VIEWER)


@pytest.fixture
def model(admin, default_tenant):
    entry = RegisteredModel.objects.create(tenant=default_tenant, owner=admin, name="resnet",
                                           description="first", visibility=Visibility.PRIVATE)
    ModelVersionFactory(model=entry, version="1.0.0")
    return entry


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ask(client: Client, query: str = PAGE, variables: dict | None = None) -> bytes:
    response = client.post("/graphql/", content_type="application/json",
                           data=json.dumps({"query": query,
                                            "variables": variables or {"first": 10}}))
    assert response.status_code == 200
    return response.content


def names(body: bytes) -> list[str]:
    return [edge["node"]["name"] for edge in json.loads(body)["data"]["models"]["edges"]]


def node(body: bytes) -> dict:
    (edge,) = json.loads(body)["data"]["models"]["edges"]
    return edge["node"]


def test_a_repeated_read_is_served_from_the_cache_with_identical_bytes(admin, model, hits,
                                                                      settings):
    client = client_of(admin)
    first = ask(client)
    assert hits == []
    counted = REGISTRY.get_sample_value("registry_graphql_response_cache_hits_total")
    assert ask(client) == first
    assert len(hits) == 1
    assert REGISTRY.get_sample_value("registry_graphql_response_cache_hits_total") == counted + 1
    settings.GRAPHQL_RESPONSE_CACHE = False
    assert ask(client) == first
    assert len(hits) == 1


def test_no_cache_when_disabled(admin, model, hits, settings):
    settings.GRAPHQL_RESPONSE_CACHE = False
    client = client_of(admin)
    ask(client)
    ask(client)
    assert hits == []


def test_writes_add_no_commit_hooks_when_disabled(admin, default_tenant, settings,
                                                 django_capture_on_commit_callbacks):
    settings.GRAPHQL_RESPONSE_CACHE = False
    with django_capture_on_commit_callbacks() as callbacks:
        RegisteredModel.objects.create(tenant=default_tenant, owner=admin, name="quiet")
    assert callbacks == []


@pytest.mark.parametrize("query", [
    "mutation { logout(token: \"x\") }",
    "{ models { edges { node { name usage { total } } } } }",
    "{ __schema { queryType { name } } }",
    "{ models { edges { node { name latestVersion { archiveUrl } } } } }",
    "{ models(first: 1000) { totalCount } }",  # an error: over the page size
    "{ node(id: \"eA==\") { id ... on ApiToken { prefix } } }",
])
def test_what_is_never_cached(admin, model, hits, query):
    client = client_of(admin)
    for _ in range(2):
        client.post("/graphql/", content_type="application/json",
                    data=json.dumps({"query": query}))
    assert hits == []


def test_each_caller_has_its_own_answers(admin, viewer, model, hits):
    assert names(ask(client_of(admin))) == ["resnet"]
    assert names(ask(client_of(viewer))) == []
    assert hits == []


def test_variables_are_part_of_the_key(admin, model, hits):
    client = client_of(admin)
    ask(client, variables={"first": 10})
    assert json.loads(ask(client, variables={"first": 0}))["data"]["models"]["edges"] == []
    assert hits == []


def test_api_token_scopes_are_part_of_the_key(admin, model, hits):
    actor = actor_for(user=admin, tenant=model.tenant)
    _, read = account_services.api_token_create(actor=actor, name="r", scopes=["read"])
    _, both = account_services.api_token_create(actor=actor, name="rw",
                                                scopes=["read", "write"])
    for secret in (read, both):
        Client(headers={"Authorization": f"Bearer {secret}"}).post(
            "/graphql/", content_type="application/json",
            data=json.dumps({"query": PAGE, "variables": {"first": 10}}))
    assert hits == []


# --- each kind of write invalidates ---------------------------------------------------------

def test_content_change_through_a_service(admin, model, hits, committed):
    client = client_of(admin)
    ask(client)
    with committed():
        services.catalog_entry_update(entry_class=RegisteredModel,
                                      actor=actor_for(user=admin, tenant=model.tenant),
                                      entry_id=model.pk, description="second")
    assert node(ask(client))["description"] == "second"
    assert hits == []


def test_new_version(admin, model, hits, committed):
    client = client_of(admin)
    ask(client)
    with committed():
        services.latest_version_refresh(ModelVersionFactory(model=model, version="2.0.0").model)
    assert node(ask(client))["latestVersion"]["version"] == "2.0.0"
    assert hits == []


def test_queryset_update(admin, model, hits, committed):
    client = client_of(admin)
    ask(client)
    with committed():
        RegisteredModel.objects.filter(pk=model.pk).update(description="updated")
    assert node(ask(client))["description"] == "updated"
    assert hits == []


def test_raw_sql(admin, model, hits, committed):
    client = client_of(admin)
    ask(client)
    with committed(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {RegisteredModel._meta.db_table} SET description = %s",
                       ["raw"])
    assert node(ask(client))["description"] == "raw"
    assert hits == []


def test_bulk_create_and_usage_counts(admin, model, hits, committed):
    client = client_of(admin)
    ask(client)
    tag = Tag.objects.create(tenant=model.tenant, name="prod")
    with committed():
        RegisteredModel.tags.through.objects.bulk_create(
            [RegisteredModel.tags.through(registeredmodel=model, tag=tag)])
    assert node(ask(client))["tags"] == [{"name": "prod", "usageCount": 1}]
    assert hits == []


def test_visibility(viewer, admin, model, hits, committed):
    client = client_of(viewer)
    assert names(ask(client)) == []
    with committed():
        services.catalog_entry_update(entry_class=RegisteredModel,
                                      actor=actor_for(user=admin, tenant=model.tenant),
                                      entry_id=model.pk, visibility=Visibility.PUBLIC)
    assert names(ask(client)) == ["resnet"]
    assert hits == []


def test_grant(viewer, admin, model, hits, committed):
    client = client_of(viewer)
    assert names(ask(client)) == []
    with committed():
        services.catalog_entry_share(entry_class=RegisteredModel,
                                     actor=actor_for(user=admin, tenant=model.tenant),
                                     entry_id=model.pk, level="view", user_ids=[viewer.pk])
    assert names(ask(client)) == ["resnet"]
    assert hits == []


def test_group_membership(viewer, admin, model, hits, committed):
    actor = actor_for(user=admin, tenant=model.tenant)
    group = account_services.group_create(actor=actor, name="readers")
    services.catalog_entry_share(entry_class=RegisteredModel, actor=actor, entry_id=model.pk,
                                 level="view", group_ids=[group.group_id])
    client = client_of(viewer)
    assert names(ask(client)) == []
    with committed():
        account_services.group_member_add(actor=actor, group_id=group.pk, user_id=viewer.pk)
    assert names(ask(client)) == ["resnet"]
    assert hits == []


def test_role_in_the_tenant(viewer, admin, model, hits, committed):
    client = client_of(viewer)
    assert names(ask(client)) == []
    with committed():
        account_services.member_role_set(actor=actor_for(user=admin, tenant=model.tenant),
                                         user_id=viewer.pk, role=Role.ADMIN)
    assert names(ask(client)) == ["resnet"]
    assert hits == []


def test_leaving_the_tenant(viewer, admin, model, hits, committed):
    model.visibility = Visibility.PUBLIC
    model.save()
    client = client_of(viewer)
    assert names(ask(client)) == ["resnet"]
    with committed():
        account_services.member_remove(actor=actor_for(user=admin, tenant=model.tenant),
                                       user_id=viewer.pk)
    assert Membership.objects.filter(user=viewer).count() == 0
    assert names(ask(client)) == []
    assert hits == []


def test_scan_status(admin, model, hits, committed):
    artifact = artifact_file(model.versions.get())
    client = client_of(admin)
    assert node(ask(client))["latestVersion"]["scanStatus"] == "CLEAN"
    with committed():
        artifact.scan_status = ScanStatus.FLAGGED
        artifact.save(update_fields=["scan_status"])
    assert ArtifactFile.objects.get().scan_status == ScanStatus.FLAGGED
    assert node(ask(client))["latestVersion"]["scanStatus"] == "FLAGGED"
    assert hits == []


def test_a_rolled_back_write_keeps_the_cached_answer(admin, model, hits, committed):
    client = client_of(admin)
    first = ask(client)
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        RegisteredModel.objects.filter(pk=model.pk).update(description="rolled back")
        raise RuntimeError
    assert ask(client) == first
    assert len(hits) == 1


def test_an_evicted_generation_restarts_above_the_old_one(admin, model, hits):
    client = client_of(admin)
    ask(client)
    generation = response_cache.current_generation()
    cache.delete(response_cache.GENERATION_KEY)
    ask(client)
    assert hits == []
    assert response_cache.current_generation() > generation


def test_a_write_to_any_table_bumps_the_generation(db, committed):
    """Invalidation does not depend on a list of models: a statement on any table counts."""
    quote = connection.ops.quote_name
    for model_class in apps.get_models(include_auto_created=True):
        if not model_class._meta.managed or model_class._meta.proxy:
            continue
        before = response_cache.current_generation()
        table, pk = quote(model_class._meta.db_table), quote(model_class._meta.pk.column)
        with committed(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {pk} = {pk} WHERE {pk} IS NULL")
        assert response_cache.current_generation() == before + 1, model_class


def test_reads_do_not_bump_the_generation(admin, model, committed):
    client = client_of(admin)  # logging in writes the session
    before = response_cache.current_generation()
    with committed():
        ask(client)
        list(RegisteredModel.objects.select_for_update().all())
    assert response_cache.current_generation() == before


@pytest.mark.django_db(transaction=True)
def test_real_commits_bump_once_and_rollbacks_do_not(default_tenant, member_factory):
    admin = member_factory(Role.ADMIN)
    before = response_cache.current_generation()
    with transaction.atomic():
        for n in range(3):
            RegisteredModel.objects.create(tenant=default_tenant, owner=admin, name=f"m{n}")
    assert response_cache.current_generation() == before + 1
    with pytest.raises(RuntimeError), transaction.atomic():
        RegisteredModel.objects.create(tenant=default_tenant, owner=admin, name="gone")
        raise RuntimeError
    assert response_cache.current_generation() == before + 1
    RegisteredModel.objects.filter(name="m0").delete()  # autocommit: at once
    assert response_cache.current_generation() == before + 2
