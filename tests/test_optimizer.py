"""A model's or dataset's latest version is read in the page's own query: it is visible to
whoever sees its entry, and what is nested under it keeps its own checks."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.selectors import actor_for
from config.graphql_context import RegistryContext
from config.schema import schema
from registry.models import Visibility
from registry.services import latest_version_refresh
from tests.factories import (
    DatasetFactory,
    DatasetVersionFactory,
    ModelVersionFactory,
    RegisteredModelFactory,
)


def _execute(query: str, user, tenant) -> tuple[dict, list[str]]:
    context = RegistryContext(request=None, response=None,
                              actor=actor_for(user=user, tenant=tenant))
    with CaptureQueriesContext(connection) as captured:
        result = schema.execute_sync(query, context_value=context)
    assert result.errors is None
    return result.data, [query["sql"] for query in captured.captured_queries]


@pytest.mark.django_db
def test_a_page_joins_the_latest_versions_instead_of_prefetching_them(member_factory,
                                                                       default_tenant):
    maintainer = member_factory("admin")  # a tenant admin's lists read only their rows
    for name, versions in (("a", ["1.0.0", "2.0.0"]), ("b", []), ("c", ["0.1.0"])):
        model = RegisteredModelFactory(tenant=default_tenant, owner=maintainer, name=name)
        for version in versions:
            ModelVersionFactory(model=model, version=version)
        latest_version_refresh(model)
    dataset = DatasetFactory(tenant=default_tenant, owner=maintainer, name="d")
    DatasetVersionFactory(dataset=dataset, version="3.0.0")
    latest_version_refresh(dataset)

    data, queries = _execute("""{
      models(order: {name: ASC}) { edges { node { name latestVersion { version } } } }
      datasets { edges { node { name latestVersion { version } } } } }""",
                             maintainer, default_tenant)

    assert data == {
        "models": {"edges": [{"node": {"name": "a", "latestVersion": {"version": "2.0.0"}}},
                             {"node": {"name": "b", "latestVersion": None}},
                             {"node": {"name": "c", "latestVersion": {"version": "0.1.0"}}}]},
        "datasets": {"edges": [{"node": {"name": "d", "latestVersion": {"version": "3.0.0"}}}]},
    }
    assert len(queries) == 2
    assert not any(query.startswith('SELECT "registry_modelversion"') for query in queries)
    assert 'LEFT OUTER JOIN "registry_modelversion"' in queries[0]
    assert 'LEFT OUTER JOIN "registry_datasetversion"' in queries[1]


@pytest.mark.django_db
def test_what_hangs_under_a_joined_latest_version_is_still_checked(member_factory,
                                                                   default_tenant):
    owner, viewer = member_factory(), member_factory("viewer")
    model = RegisteredModelFactory(tenant=default_tenant, owner=owner,
                                   visibility=Visibility.PUBLIC)
    version = ModelVersionFactory(model=model, version="1.0.0")
    latest_version_refresh(model)
    for name, visibility in (("open", Visibility.PUBLIC), ("hidden", Visibility.PRIVATE)):
        dataset = DatasetFactory(tenant=default_tenant, owner=owner, name=name,
                                 visibility=visibility)
        version.dataset_versions.add(DatasetVersionFactory(dataset=dataset, version="1.0.0"))

    data, _ = _execute("""{ models { edges { node { latestVersion {
      datasetVersions { dataset { name } } } } } } }""", viewer, default_tenant)

    assert data["models"]["edges"] == [{"node": {"latestVersion": {
        "datasetVersions": [{"dataset": {"name": "open"}}]}}}]
