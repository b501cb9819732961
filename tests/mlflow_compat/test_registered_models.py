"""Registered models through the real MlflowClient: CRUD, tags, aliases and search."""

import pytest
from mlflow.exceptions import RestException

from accounts.models import User
from accounts.selectors import actor_for
from registry import services
from registry.models import ModelMetadata, RegisteredModel, Visibility

pytestmark = pytest.mark.django_db(transaction=True)


def error_of(call, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(RestException) as raised:
        call(*args, **kwargs)
    return raised.value.error_code, raised.value.message


def test_create_get_update_rename_delete(client, maintainer_token):
    created = client.create_registered_model("detector", tags={"team": "vision"},
                                             description="finds people")
    assert (created.name, created.description, created.tags) == (
        "detector", "finds people", {"team": "vision"})
    assert created.latest_versions == []
    row = RegisteredModel.objects.get(name="detector")
    assert (row.description, row.visibility, row.owner.username) == (
        "finds people", Visibility.PRIVATE, "ada")
    assert list(ModelMetadata.objects.filter(owner=row).values_list("key__name", "value")) == [
        ("team", "vision")]

    assert client.update_registered_model("detector", description="v2").description == "v2"
    client.rename_registered_model("detector", "people-detector")
    fetched = client.get_registered_model("people-detector")
    assert (fetched.name, fetched.description, fetched.tags) == (
        "people-detector", "v2", {"team": "vision"})
    assert fetched.creation_timestamp == int(row.created_at.timestamp() * 1000)
    assert error_of(client.get_registered_model, "detector")[0] == "RESOURCE_DOES_NOT_EXIST"

    client.delete_registered_model("people-detector")
    assert not RegisteredModel.objects.exists()
    assert error_of(client.delete_registered_model, "people-detector") == (
        "RESOURCE_DOES_NOT_EXIST",
        "RESOURCE_DOES_NOT_EXIST: Registered Model with name=people-detector not found")


def test_duplicate_and_invalid_names(client, maintainer_token):
    client.create_registered_model("detector")
    code, message = error_of(client.create_registered_model, "detector")
    assert code == "RESOURCE_ALREADY_EXISTS"
    assert "'detector' already exists" in message
    assert error_of(client.create_registered_model, "bad name/")[0] == "INVALID_PARAMETER_VALUE"
    client.create_registered_model("other")
    assert error_of(client.rename_registered_model, "other", "detector")[0] == (
        "RESOURCE_ALREADY_EXISTS")
    assert sorted(RegisteredModel.objects.values_list("name", flat=True)) == ["detector", "other"]


def test_tags(client, maintainer_token):
    client.create_registered_model("detector")
    client.set_registered_model_tag("detector", "owner.team", "vision")
    client.set_registered_model_tag("detector", "stage", "beta")
    client.set_registered_model_tag("detector", "stage", "ga")
    assert client.get_registered_model("detector").tags == {
        "owner.team": "vision", "stage": "ga"}
    client.delete_registered_model_tag("detector", "stage")
    assert client.get_registered_model("detector").tags == {"owner.team": "vision"}
    assert error_of(client.set_registered_model_tag, "detector", "registry.mlflow.run_id",
                    "x")[0] == "INVALID_PARAMETER_VALUE"


def test_aliases(client, maintainer_token):
    client.create_registered_model("detector")
    client.create_model_version("detector", "s3://bucket/v1")
    client.create_model_version("detector", "s3://bucket/v2")
    client.set_registered_model_alias("detector", "champion", "1")
    client.set_registered_model_alias("detector", "challenger", 2)
    model = client.get_registered_model("detector")
    assert model.aliases == {"challenger": "2", "champion": "1"}
    champion = client.get_model_version_by_alias("detector", "champion")
    assert (champion.version, champion.source, champion.aliases) == ("1", "s3://bucket/v1",
                                                                     ["champion"])
    client.set_registered_model_alias("detector", "champion", "2")
    assert client.get_model_version_by_alias("detector", "champion").version == "2"
    client.delete_registered_model_alias("detector", "champion")
    assert client.get_registered_model("detector").aliases == {"challenger": "2"}
    assert error_of(client.get_model_version_by_alias, "detector", "champion")[0] == (
        "RESOURCE_DOES_NOT_EXIST")
    assert error_of(client.set_registered_model_alias, "detector", "x", "7")[0] == (
        "RESOURCE_DOES_NOT_EXIST")


@pytest.fixture
def catalog(client, maintainer_token):
    for name, tags in [("Alpha", {"team": "vision"}), ("alpine", {}), ("beta", {"team": "speech"})]:
        client.create_registered_model(name, tags=tags)
    # The client refuses to register prompts as models; they reach us as tagged models.
    ada = actor_for(user=User.objects.get(username="ada"))
    services.metadata_set(owner=RegisteredModel.objects.get(name="beta"), actor=ada,
                          metadata={"mlflow.prompt.is_prompt": "false"})
    services.catalog_entry_create(entry_class=RegisteredModel, actor=ada, name="prompt-1",
                                  metadata={"mlflow.prompt.is_prompt": "true"})
    return client


def names(models) -> list[str]:
    return [model.name for model in models]


@pytest.mark.parametrize(("filter_string", "expected"), [
    (None, ["Alpha", "alpine", "beta"]),  # the client adds is_prompt != 'true'
    ("name = 'beta'", ["beta"]),
    ("name != 'beta'", ["Alpha", "alpine"]),
    ("name LIKE 'Al%'", ["Alpha"]),
    ("name ILIKE 'al%'", ["Alpha", "alpine"]),
    ("name LIKE '%p_a'", ["Alpha"]),
    ("tags.team = 'vision'", ["Alpha"]),
    ("tag.`team` != 'vision'", ["alpine", "beta"]),
    ("tag.\"team\" LIKE 's%'", ["beta"]),
    ("name ILIKE 'a%' AND tag.team = 'vision'", ["Alpha"]),
    ("tag.`mlflow.prompt.is_prompt` = 'true'", ["prompt-1"]),
])
def test_search_filters(catalog, filter_string, expected):
    assert names(catalog.search_registered_models(filter_string)) == expected


@pytest.mark.parametrize("filter_string", [
    "name = 'a' OR name = 'b'", "owner = 'ada'", "name >= 'a'", "name = ", "name 'a'",
    "tags.team IN ('a')",
])
def test_search_refuses_unsupported_filters(catalog, filter_string):
    assert error_of(catalog.search_registered_models, filter_string)[0] == (
        "INVALID_PARAMETER_VALUE")


def test_search_order_and_pages(catalog):
    first = catalog.search_registered_models(max_results=2, order_by=["name DESC"])
    assert names(first) == ["beta", "alpine"]
    assert first.token
    second = catalog.search_registered_models(max_results=2, order_by=["name DESC"],
                                              page_token=first.token)
    assert names(second) == ["Alpha"]
    assert second.token == ""
    catalog.update_registered_model("alpine", description="touched")
    assert names(catalog.search_registered_models(
        order_by=["last_updated_timestamp DESC"]))[0] == "alpine"
    assert names(catalog.search_registered_models(
        order_by=["last_updated_timestamp ASC"]))[-1] == "alpine"
    assert error_of(catalog.search_registered_models, order_by=["owner ASC"])[0] == (
        "INVALID_PARAMETER_VALUE")
    assert error_of(catalog.search_registered_models, page_token="not-a-token")[0] == (
        "INVALID_PARAMETER_VALUE")
    assert error_of(catalog.search_registered_models, max_results=1001)[0] == (
        "INVALID_PARAMETER_VALUE")
