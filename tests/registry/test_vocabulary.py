"""Tags and metadata names: a per-tenant vocabulary of default and folk entries."""

from accounts.models import Role
from registry.models import MetadataKey, Tag
from tests.registry.test_catalog_api import CREATE_MODEL, UPDATE_MODEL, gid

TAGS = """query($f: TagFilter) { tags(filters: $f) { totalCount
    edges { node { name usage usageCount } } } }"""
KEYS = """query($f: MetadataKeyFilter) { metadataKeys(filters: $f) { totalCount
    edges { node { name usage usageCount } } } }"""


def names(result, field="tags"):
    return [(e["node"]["name"], e["node"]["usage"], e["node"]["usageCount"])
            for e in result.data[field]["edges"]]


def test_tags_listed_by_usage_with_counts_and_prefix(gql, gql_as, member_factory):
    admin = member_factory(Role.ADMIN)
    gql_as(admin)("""mutation { createDefaultTag(data: {name: "vision", description: "CV"}) {
        ... on Tag { name usage } } }""")
    gql(CREATE_MODEL, {"data": {"name": "a", "tags": ["vision", "edge"]}})
    gql(CREATE_MODEL, {"data": {"name": "b", "tags": ["vision"]}})
    gql("""mutation { createDataset(data: {name: "d", tags: ["vision", "video"]}) {
        __typename } }""")

    everything = gql(TAGS)
    defaults = gql(TAGS, {"f": {"usage": {"exact": "DEFAULT"}}})
    folk_with_prefix = gql(TAGS, {"f": {"prefix": "V", "usage": {"exact": "FOLK"}}})

    assert names(everything) == [("vision", "DEFAULT", 3), ("edge", "FOLK", 1),
                                 ("video", "FOLK", 1)]
    assert everything.data["tags"]["totalCount"] == 3
    assert names(defaults) == [("vision", "DEFAULT", 3)]
    assert names(folk_with_prefix) == [("video", "FOLK", 1)]


def test_metadata_keys_count_every_kind_of_owner(gql, gql_as, member_factory):
    created = gql(CREATE_MODEL, {"data": {"name": "a",
                                          "metadata": [{"name": "team", "value": "x"}]}})
    gql("""mutation($id: ID!) { createModelVersion(data: {modelId: $id, version: "1.0.0",
        metadata: [{name: "team", value: "y"}, {name: "commit", value: "abc"}]}) {
        __typename } }""", {"id": created.data["createModel"]["id"]})

    result = gql(KEYS, {"f": {"prefix": "t"}})

    assert names(result, "metadataKeys") == [("team", "FOLK", 2)]
    assert names(gql(KEYS), "metadataKeys") == [("team", "FOLK", 2), ("commit", "FOLK", 1)]


def test_default_entry_in_use_cannot_be_deleted(gql, gql_as, member_factory):
    admin = gql_as(member_factory(Role.ADMIN))
    admin("""mutation { createDefaultTag(data: {name: "vision"}) { __typename } }""")
    created = gql(CREATE_MODEL, {"data": {"name": "a", "tags": ["vision"]}})
    tag = Tag.objects.get(name="vision")
    delete = """mutation($id: ID!) { deleteTag(id: $id) { __typename
        ... on Deletion { deletedId } ... on OperationInfo { messages { code message } } } }"""

    refused = admin(delete, {"id": gid(tag)})
    gql(UPDATE_MODEL, {"data": {"id": created.data["createModel"]["id"],
                                "tags": {"remove": ["vision"]}}})
    deleted = admin(delete, {"id": gid(tag)})

    assert refused.data["deleteTag"] == {"__typename": "OperationInfo", "messages": [
        {"code": "tag_in_use",
         "message": "'vision' is used 1 times; remove it from those objects first."}]}
    assert deleted.data["deleteTag"] == {"__typename": "Deletion", "deletedId": gid(tag)}
    assert Tag.objects.count() == 0


def test_metadata_key_delete_and_default_creation(gql_as, member_factory):
    admin = gql_as(member_factory(Role.ADMIN))

    created = admin("""mutation { createDefaultMetadataKey(data: {name: "owner-team"}) {
        ... on MetadataKey { id name usage usageCount } } }""").data
    key_id = created["createDefaultMetadataKey"]["id"]
    deleted = admin("""mutation($id: ID!) { deleteMetadataKey(id: $id) {
        ... on Deletion { deletedId } } }""", {"id": key_id}).data

    assert created["createDefaultMetadataKey"] == {"id": key_id, "name": "owner-team",
                                                   "usage": "DEFAULT", "usageCount": 0}
    assert deleted["deleteMetadataKey"] == {"deletedId": key_id}
    assert MetadataKey.objects.count() == 0


def test_only_tenant_admins_manage_the_vocabulary(gql):
    result = gql("""mutation { createDefaultTag(data: {name: "vision"}) {
        ... on OperationInfo { messages { kind code } } } }""")

    assert result.data["createDefaultTag"] == {"messages": [{"kind": "PERMISSION",
                                                             "code": "permission_denied"}]}
    assert Tag.objects.count() == 0


def test_folk_entry_becomes_default_when_an_admin_promotes_it(gql, gql_as, member_factory):
    gql(CREATE_MODEL, {"data": {"name": "a", "tags": ["edge"]}})

    gql_as(member_factory(Role.ADMIN))(
        """mutation { createDefaultTag(data: {name: "edge"}) { __typename } }""")

    assert list(Tag.objects.values_list("name", "usage")) == [("edge", "default")]


def test_usage_counts_only_count_what_the_caller_may_see(gql, gql_as, member_factory):
    gql(CREATE_MODEL, {"data": {"name": "public", "tags": ["vision"], "visibility": "PUBLIC",
                                "metadata": [{"name": "team", "value": "a"}]}})
    gql(CREATE_MODEL, {"data": {"name": "secret", "tags": ["vision"], "visibility": "PRIVATE",
                                "metadata": [{"name": "team", "value": "b"}]}})
    colleague = gql_as(member_factory(Role.VIEWER))
    admin = gql_as(member_factory(Role.ADMIN))

    assert names(colleague(TAGS)) == [("vision", "FOLK", 1)]
    assert names(colleague(KEYS), "metadataKeys") == [("team", "FOLK", 1)]
    assert names(admin(TAGS)) == [("vision", "FOLK", 2)]
    assert names(gql(KEYS), "metadataKeys") == [("team", "FOLK", 2)]
