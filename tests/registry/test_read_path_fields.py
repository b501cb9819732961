"""`tags` and `scanStatus` read from their page's prefetch, and still answer without one."""

import pytest

from registry.models import ScanStatus, Tag
from tests.factories import ModelVersionFactory, RegisteredModelFactory, artifact_file

PAGE = """query($f: TagFilter, $o: VocabularyOrder) { models(order: {name: ASC}) { edges { node {
  name all: tags { name } some: tags(filters: $f, order: $o) { name }
  versions { edges { node { version scanStatus } } } } } } }"""


@pytest.fixture
def catalog(maintainer, default_tenant):
    tags = [Tag.objects.create(tenant=default_tenant, name=name) for name in ["b", "a", "ab"]]
    first = RegisteredModelFactory(tenant=default_tenant, owner=maintainer, name="m1")
    first.tags.add(*tags)
    second = RegisteredModelFactory(tenant=default_tenant, owner=maintainer, name="m2")
    second.tags.add(tags[0])
    flagged = ModelVersionFactory(model=first, version="1.0.0")
    artifact_file(flagged, "a.bin", scan_status=ScanStatus.CLEAN)
    artifact_file(flagged, "b.bin", scan_status=ScanStatus.FLAGGED)
    artifact_file(ModelVersionFactory(model=first, version="2.0.0"), "c.bin",
                  scan_status=ScanStatus.PENDING)
    ModelVersionFactory(model=second, version="1.0.0")


def test_a_page_reads_tags_and_scan_status_per_node(gql, catalog):
    result = gql(PAGE, {"f": {"prefix": "a"}, "o": {"name": "DESC"}})

    assert result.body == {"data": {"models": {"edges": [
        {"node": {"name": "m1", "all": [{"name": "a"}, {"name": "ab"}, {"name": "b"}],
                  "some": [{"name": "ab"}, {"name": "a"}],
                  "versions": {"edges": [
                      {"node": {"version": "2.0.0", "scanStatus": "PENDING"}},
                      {"node": {"version": "1.0.0", "scanStatus": "FLAGGED"}}]}}},
        {"node": {"name": "m2", "all": [{"name": "b"}], "some": [],
                  "versions": {"edges": [
                      {"node": {"version": "1.0.0", "scanStatus": "CLEAN"}}]}}},
    ]}}}


def test_without_arguments_both_tag_lists_are_the_prefetched_ones(gql, catalog):
    result = gql(PAGE)

    nodes = [edge["node"] for edge in result.body["data"]["models"]["edges"]]
    assert [(node["all"], node["some"]) for node in nodes] == [
        ([{"name": "a"}, {"name": "ab"}, {"name": "b"}],) * 2, ([{"name": "b"}],) * 2]
