"""A page of models costs a constant number of SQL queries, whatever its size."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from accounts.selectors import actor_for
from config.graphql_context import RegistryContext
from config.schema import schema
from registry.models import MetadataKey, ModelMetadata, RegisteredModel, Tag
from tests.factories import ModelVersionFactory

PAGE = """query($first: Int!) { models(first: $first) { totalCount edges { node {
    id name owner { username } tags { name } metadata { name value }
    latestVersion { version precision files { path size scanStatus } } } } } }"""


def execute(actor, query, variables):
    cache.clear()  # every page counts the grant-count hint's query, not only the first
    request = RequestFactory().post("/graphql/")
    context = RegistryContext(request=request, response=None, actor=actor)
    with CaptureQueriesContext(connection) as queries:
        result = schema.execute_sync(query, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    return result.data, len(queries)


@pytest.fixture
def populated(maintainer, default_tenant):
    tags = Tag.objects.bulk_create([Tag(tenant=default_tenant, name=f"t{i}") for i in range(3)])
    key = MetadataKey.objects.create(tenant=default_tenant, name="team")
    for i in range(100):
        model = RegisteredModel.objects.create(tenant=default_tenant, owner=maintainer,
                                               name=f"m{i:03}")
        model.tags.add(*tags)
        ModelMetadata.objects.create(owner=model, key=key, value="x")
        ModelVersionFactory(model=model, version="1.0.0")
        ModelVersionFactory(model=model, version="1.1.0")
    return actor_for(user=maintainer, tenant=default_tenant)


def test_page_of_models_costs_constant_queries(populated):
    small, small_queries = execute(populated, PAGE, {"first": 5})
    full, full_queries = execute(populated, PAGE, {"first": 100})

    assert len(small["models"]["edges"]) == 5
    assert len(full["models"]["edges"]) == 100
    assert full["models"]["edges"][42]["node"]["latestVersion"]["version"] == "1.1.0"
    assert full["models"]["edges"][42]["node"]["tags"] == [{"name": "t0"}, {"name": "t1"},
                                                           {"name": "t2"}]
    assert small_queries == full_queries
    assert full_queries <= 8
