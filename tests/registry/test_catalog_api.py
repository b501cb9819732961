"""The catalog through GraphQL: create, update, delete, versions, aliases, lineage, search."""

import pytest
from strawberry.relay import to_base64

from accounts.models import Role
from registry.models import Dataset, ModelAlias, ModelVersion, RegisteredModel, Tag
from tests.factories import (
    DatasetVersionFactory,
    ModelVersionFactory,
    RegisteredModelFactory,
    artifact_file,
)

MODEL_FIELDS = """
  id name projectName description readme status visibility license author organization
  category architecture framework owner { username } tags { name usage }
  metadata { name value } datasets { name }
"""
PAYLOAD = ("__typename ... on RegisteredModel { " + MODEL_FIELDS + " }"
           " ... on OperationInfo { messages { kind code field message } }")
CREATE_MODEL = ("mutation($data: CreateModelInput!) { createModel(data: $data) { "
                + PAYLOAD + " } }")
UPDATE_MODEL = ("mutation($data: UpdateModelInput!) { updateModel(data: $data) { "
                + PAYLOAD + " } }")
DELETE_MODEL = """mutation($id: ID!) { deleteModel(id: $id) {
  __typename ... on Deletion { deletedId }
  ... on OperationInfo { messages { code field } } } }"""
CREATE_VERSION = """mutation($data: CreateModelVersionInput!) { createModelVersion(data: $data) {
  __typename ... on ModelVersion { id version precision state source metrics
    hardware { minMemoryMb gpuMemoryMb accelerators }
    containerImages { registry repository digest } checkpoints
    metadata { name value } datasetVersions { version dataset { name } } model { name } }
  ... on OperationInfo { messages { code field } } } }"""
DIGEST = "sha256:" + "ab" * 32


def gid(obj) -> str:
    type_name = {"RegisteredModel": "RegisteredModel", "Dataset": "Dataset",
                 "ModelVersion": "ModelVersion", "DatasetVersion": "DatasetVersion",
                 "User": "User", "Tag": "Tag", "MetadataKey": "MetadataKey",
                 "ArtifactFile": "ArtifactFile"}[type(obj).__name__]
    return to_base64(type_name, obj.pk)


def test_create_model_with_tags_metadata_and_sharing(gql, maintainer, member_factory):
    colleague = member_factory(Role.VIEWER)

    result = gql(CREATE_MODEL, {"data": {
        "name": "yolo-det", "projectName": "vision", "description": "Finds cars",
        "readme": "# YOLO", "status": "TEST", "visibility": "PRIVATE", "license": "MIT",
        "author": "Ada", "organization": "ACME", "category": "Detection",
        "architecture": "YOLO", "framework": "onnx", "tags": ["vision", "edge"],
        "metadata": [{"name": "team", "value": "perception"}], "users": [gid(colleague)],
    }})

    model = RegisteredModel.objects.get(name="yolo-det")
    assert result.data["createModel"] == {
        "__typename": "RegisteredModel", "id": gid(model), "name": "yolo-det",
        "projectName": "vision", "description": "Finds cars", "readme": "# YOLO",
        "status": "TEST", "visibility": "PRIVATE", "license": "MIT", "author": "Ada",
        "organization": "ACME", "category": "Detection", "architecture": "YOLO",
        "framework": "onnx", "owner": {"username": maintainer.username},
        "tags": [{"name": "edge", "usage": "FOLK"}, {"name": "vision", "usage": "FOLK"}],
        "metadata": [{"name": "team", "value": "perception"}], "datasets": [],
    }
    assert colleague.has_perm("registry.view_registeredmodel", model)


def test_update_model_adds_and_removes_relations(gql, maintainer, member_factory):
    created = gql(CREATE_MODEL, {"data": {"name": "m1", "tags": ["a", "b"],
                                          "metadata": [{"name": "k1", "value": "v1"},
                                                       {"name": "k2", "value": "v2"}]}})
    model_id = created.data["createModel"]["id"]
    dataset = Dataset.objects.create(tenant=RegisteredModel.objects.get().tenant,
                                     owner=maintainer, name="coco")
    colleague = member_factory(Role.VIEWER)

    result = gql(UPDATE_MODEL, {"data": {
        "id": model_id, "description": "new", "status": "PRODUCTION",
        "tags": {"add": ["c"], "remove": ["a"]},
        "metadata": {"add": [{"name": "k1", "value": "changed"}], "remove": ["k2"]},
        "users": {"add": [gid(colleague)]}, "datasets": {"add": [gid(dataset)]},
    }})

    node = result.data["updateModel"]
    assert (node["description"], node["status"]) == ("new", "PRODUCTION")
    assert [t["name"] for t in node["tags"]] == ["b", "c"]
    assert node["metadata"] == [{"name": "k1", "value": "changed"}]
    assert node["datasets"] == [{"name": "coco"}]
    model = RegisteredModel.objects.get()
    assert colleague.has_perm("registry.view_registeredmodel", model)

    gql(UPDATE_MODEL, {"data": {"id": model_id, "users": {"remove": [gid(colleague)]},
                                "datasets": {"remove": [gid(dataset)]}}})
    colleague = type(colleague).objects.get(pk=colleague.pk)  # fresh permission cache
    assert not colleague.has_perm("registry.view_registeredmodel", model)
    assert list(model.datasets.all()) == []


def test_delete_model_removes_versions_files_and_blobs(gql, maintainer, default_tenant):
    model = RegisteredModelFactory(tenant=default_tenant, owner=maintainer)
    artifact = artifact_file(ModelVersionFactory(model=model))

    result = gql(DELETE_MODEL, {"id": gid(model)})

    assert result.data["deleteModel"] == {"__typename": "Deletion", "deletedId": gid(model)}
    assert RegisteredModel.objects.filter(pk=model.pk).count() == 0
    assert ModelVersion.objects.count() == 0
    assert type(artifact.blob).objects.count() == 0


def test_create_version_with_every_field(gql, maintainer, default_tenant):
    model = RegisteredModelFactory(tenant=default_tenant, owner=maintainer, name="det")
    dataset_version = DatasetVersionFactory(dataset__tenant=default_tenant,
                                            dataset__owner=maintainer, dataset__name="coco",
                                            version="2.0.0")

    result = gql(CREATE_VERSION, {"data": {
        "modelId": gid(model), "version": "1.2.0-rc.1", "precision": "FP16",
        "description": "first", "source": "mlflow://runs/42",
        "metrics": {"mAP": 0.53, "latency_ms": 12},
        "hardware": {"minMemoryMb": 4096, "gpuMemoryMb": 8192, "accelerators": ["cuda"]},
        "containerImages": [{"registry": "ghcr.io", "repository": "acme/det",
                             "digest": DIGEST}],
        "checkpoints": ["s3://bucket/ckpt/epoch10.pt"],
        "metadata": [{"name": "commit", "value": "abc123"}],
        "datasetVersions": [gid(dataset_version)],
    }})

    assert result.data["createModelVersion"] == {
        "__typename": "ModelVersion", "id": gid(ModelVersion.objects.get()),
        "version": "1.2.0-rc.1", "precision": "FP16", "state": "LIVE",
        "source": "mlflow://runs/42", "metrics": {"mAP": 0.53, "latency_ms": 12},
        "hardware": {"minMemoryMb": 4096, "gpuMemoryMb": 8192, "accelerators": ["cuda"]},
        "containerImages": [{"registry": "ghcr.io", "repository": "acme/det",
                             "digest": DIGEST}],
        "checkpoints": ["s3://bucket/ckpt/epoch10.pt"],
        "metadata": [{"name": "commit", "value": "abc123"}],
        "datasetVersions": [{"version": "2.0.0", "dataset": {"name": "coco"}}],
        "model": {"name": "det"},
    }


def test_lineage_is_queryable_in_both_directions(gql, maintainer, default_tenant):
    model_version = ModelVersionFactory(model__tenant=default_tenant, model__owner=maintainer,
                                        model__name="det", version="1.0.0")
    dataset_version = DatasetVersionFactory(dataset__tenant=default_tenant,
                                            dataset__owner=maintainer, version="3.1.0")
    model_version.dataset_versions.add(dataset_version)

    result = gql("""query($id: ID!) { node(id: $id) { ... on DatasetVersion {
        version modelVersions { version model { name } } } } }""",
                 {"id": gid(dataset_version)})

    assert result.data["node"] == {"version": "3.1.0",
                                   "modelVersions": [{"version": "1.0.0",
                                                      "model": {"name": "det"}}]}


def test_latest_version_follows_semantic_version_precedence(gql, maintainer, default_tenant):
    model = RegisteredModelFactory(tenant=default_tenant, owner=maintainer, name="m")
    for version in ["1.10.0", "1.9.0", "2.0.0-rc.2", "2.0.0-rc.10", "1.2.3"]:
        ModelVersionFactory(model=model, version=version)

    result = gql("""{ models { edges { node { latestVersion { version } } } }
                     findModelVersion(name: "m") { version } }""")

    assert result.data["models"]["edges"] == [{"node": {"latestVersion":
                                                        {"version": "2.0.0-rc.10"}}}]
    assert result.data["findModelVersion"] == {"version": "2.0.0-rc.10"}
    ModelVersionFactory(model=model, version="2.0.0")
    assert gql('{ findModelVersion(name: "m") { version } }').data == {
        "findModelVersion": {"version": "2.0.0"}}


def test_find_model_version_ands_its_arguments(gql, maintainer, default_tenant):
    det = RegisteredModelFactory(tenant=default_tenant, owner=maintainer, name="det",
                                 project_name="vision", category="Detection",
                                 architecture="YOLO")
    ModelVersionFactory(model=det, version="1.0.0", precision="FP32")
    fp16 = ModelVersionFactory(model=det, version="1.1.0", precision="FP16")
    ModelVersionFactory(model=det, version="1.2.0", precision="FP32")
    ModelAlias.objects.create(model=det, name="champion", version=fp16)
    query = """{ a: findModelVersion(name: "det", precision: "FP32") { version }
        b: findModelVersion(projectName: "vision", category: "Detection", architecture: "YOLO",
                            alias: "champion") { version }
        c: findModelVersion(name: "det", version: "1.0.0") { version }
        d: findModelVersion(name: "det", precision: "INT8") { version } }"""

    assert gql(query).data == {
        "a": {"version": "1.2.0"}, "b": {"version": "1.1.0"}, "c": {"version": "1.0.0"},
        "d": None}


def test_aliases_point_at_one_version_per_model(gql, maintainer, default_tenant):
    model = RegisteredModelFactory(tenant=default_tenant, owner=maintainer)
    first, second = ModelVersionFactory(model=model), ModelVersionFactory(model=model)
    set_alias = """mutation($m: ID!, $v: ID!) { setModelAlias(modelId: $m, alias: "champion",
        versionId: $v) { __typename ... on ModelAlias { name version { version } }
        ... on OperationInfo { messages { code field } } } }"""

    gql(set_alias, {"m": gid(model), "v": gid(first)})
    moved = gql(set_alias, {"m": gid(model), "v": gid(second)})

    assert moved.data["setModelAlias"] == {"__typename": "ModelAlias", "name": "champion",
                                           "version": {"version": second.version}}
    assert list(ModelAlias.objects.values_list("version_id", flat=True)) == [second.pk]
    removed = gql("""mutation($m: ID!) { removeModelAlias(modelId: $m, alias: "champion") {
        __typename } }""", {"m": gid(model)})
    assert removed.data["removeModelAlias"] == {"__typename": "RegisteredModel"}
    assert ModelAlias.objects.count() == 0


def test_alias_to_another_models_version_is_refused(gql, maintainer, default_tenant):
    model = RegisteredModelFactory(tenant=default_tenant, owner=maintainer)
    foreign = ModelVersionFactory(model__tenant=default_tenant, model__owner=maintainer)

    result = gql("""mutation($m: ID!, $v: ID!) { setModelAlias(modelId: $m, alias: "prod",
        versionId: $v) { ... on OperationInfo { messages { code field } } } }""",
                 {"m": gid(model), "v": gid(foreign)})

    assert result.data["setModelAlias"] == {
        "messages": [{"code": "alias_version_mismatch", "field": "versionId"}]}
    assert ModelAlias.objects.count() == 0


FILTER_QUERY = """query($f: RegisteredModelFilter) { models(filters: $f) {
    totalCount edges { node { name } } } }"""


@pytest.fixture
def three_models(maintainer, default_tenant, gql):
    for data in [
        {"name": "yolo-det", "projectName": "vision", "category": "Detection",
         "architecture": "YOLO", "framework": "onnx", "license": "MIT",
         "description": "Detects cars on highways", "tags": ["vision", "edge"],
         "metadata": [{"name": "team", "value": "perception"}], "visibility": "PUBLIC"},
        {"name": "bert-base", "projectName": "nlp", "category": "NLP",
         "architecture": "Transformer", "framework": "pytorch", "license": "Apache-2.0",
         "readme": "A language model for search", "tags": ["nlp"],
         "metadata": [{"name": "team", "value": "language"}], "status": "PRODUCTION"},
        {"name": "yolo-seg", "projectName": "vision", "category": "Segmentation",
         "architecture": "YOLO", "framework": "onnx", "tags": ["vision"],
         "metadata": [{"name": "team", "value": "perception"}]},
    ]:
        assert gql(CREATE_MODEL, {"data": data}).data["createModel"]["__typename"] == \
            "RegisteredModel"


@pytest.mark.parametrize(("filters", "names"), [
    ({"name": {"exact": "bert-base"}}, ["bert-base"]),
    ({"name": {"startsWith": "yolo"}}, ["yolo-det", "yolo-seg"]),
    ({"name": {"contains": "-se"}}, ["yolo-seg"]),
    ({"projectName": {"exact": "vision"}}, ["yolo-det", "yolo-seg"]),
    ({"status": {"exact": "PRODUCTION"}}, ["bert-base"]),
    ({"visibility": {"exact": "PUBLIC"}}, ["yolo-det"]),
    ({"tags": ["vision"]}, ["yolo-det", "yolo-seg"]),
    ({"tags": ["vision", "edge"]}, ["yolo-det"]),
    ({"tags": ["vision", "nlp"]}, []),
    ({"metadata": [{"name": "team", "value": "perception"}]}, ["yolo-det", "yolo-seg"]),
    ({"metadata": [{"name": "team", "value": "nobody"}]}, []),
    ({"category": {"exact": "NLP"}}, ["bert-base"]),
    ({"architecture": {"exact": "YOLO"}, "category": {"exact": "Segmentation"}}, ["yolo-seg"]),
    ({"framework": {"exact": "pytorch"}}, ["bert-base"]),
    ({"license": {"exact": "MIT"}}, ["yolo-det"]),
    ({"search": "highways"}, ["yolo-det"]),
    ({"search": "language"}, ["bert-base"]),
    ({"search": "yolo"}, ["yolo-det", "yolo-seg"]),
    ({"OR": {"name": {"exact": "bert-base"}}, "name": {"exact": "yolo-seg"}},
     ["bert-base", "yolo-seg"]),
])
def test_model_filters(gql, three_models, filters, names):
    result = gql(FILTER_QUERY, {"f": filters}).data["models"]

    assert [edge["node"]["name"] for edge in result["edges"]] == names
    assert result["totalCount"] == len(names)


def test_filter_by_owner_and_time_range(gql, three_models, maintainer):
    by_owner = gql(FILTER_QUERY, {"f": {"owner": maintainer.username}}).data["models"]
    nobody = gql(FILTER_QUERY, {"f": {"owner": "someone-else"}}).data["models"]
    future = gql(FILTER_QUERY, {"f": {"createdAt": {"gt": "2999-01-01T00:00:00+00:00"}}})
    past = gql(FILTER_QUERY, {"f": {"updatedAt": {"gt": "2000-01-01T00:00:00+00:00"}}})

    assert by_owner["totalCount"] == 3
    assert nobody["totalCount"] == 0
    assert future.data["models"]["totalCount"] == 0
    assert past.data["models"]["totalCount"] == 3


def test_ordering_and_pagination(gql, maintainer, default_tenant):
    for i in range(5):
        RegisteredModelFactory(tenant=default_tenant, owner=maintainer, name=f"m{i}")
    query = """query($after: String) { models(order: {name: DESC}, first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }"""

    first_page = gql(query).data["models"]
    second_page = gql(query, {"after": first_page["pageInfo"]["endCursor"]}).data["models"]

    assert [e["node"]["name"] for e in first_page["edges"]] == ["m4", "m3"]
    assert [e["node"]["name"] for e in second_page["edges"]] == ["m2", "m1"]
    assert (first_page["totalCount"], first_page["pageInfo"]["hasNextPage"]) == (5, True)


def test_page_size_is_capped(gql, maintainer, default_tenant):
    RegisteredModel.objects.bulk_create([
        RegisteredModel(tenant=default_tenant, owner=maintainer, name=f"m{i:03}")
        for i in range(105)
    ])

    capped = gql("{ models(first: 1000) { edges { node { name } } } }")
    default_page = gql("{ models { totalCount edges { node { name } } } }").data["models"]

    assert capped.body["data"] is None
    assert capped.body["errors"][0]["message"] == \
        "Argument 'first' cannot be higher than 100."
    assert (len(default_page["edges"]), default_page["totalCount"]) == (100, 105)


def test_datasets_crud_and_versions(gql, maintainer):
    created = gql("""mutation { createDataset(data: {name: "coco", tags: ["images"],
        visibility: PUBLIC}) { ... on Dataset { id name tags { name } } } }""")
    dataset_id = created.data["createDataset"]["id"]

    version = gql("""mutation($id: ID!) { createDatasetVersion(data: {datasetId: $id,
        version: "2017.0.0", source: "https://cocodataset.org", metrics: {images: 118287}}) {
        ... on DatasetVersion { version source metrics dataset { name } } } }""",
                  {"id": dataset_id})
    updated = gql("""mutation($id: ID!) { updateDataset(data: {id: $id, description: "d",
        tags: {add: ["detection"]}}) { ... on Dataset { description tags { name } } } }""",
                  {"id": dataset_id})
    listed = gql('{ datasets(filters: {tags: ["images"]}) { totalCount edges { node {'
                 " name latestVersion { version } } } } }")
    deleted = gql("mutation($id: ID!) { deleteDataset(id: $id) { ... on Deletion { deletedId } } }",
                  {"id": dataset_id})

    assert version.data["createDatasetVersion"] == {
        "version": "2017.0.0", "source": "https://cocodataset.org",
        "metrics": {"images": 118287}, "dataset": {"name": "coco"}}
    assert updated.data["updateDataset"] == {"description": "d",
                                             "tags": [{"name": "detection"},
                                                      {"name": "images"}]}
    assert listed.data["datasets"] == {"totalCount": 1, "edges": [
        {"node": {"name": "coco", "latestVersion": {"version": "2017.0.0"}}}]}
    assert deleted.data["deleteDataset"] == {"deletedId": dataset_id}
    assert Dataset.objects.count() == 0


def test_node_and_nodes_resolve_any_visible_object(gql, maintainer, default_tenant):
    version = ModelVersionFactory(model__tenant=default_tenant, model__owner=maintainer,
                                  model__name="det", version="1.0.0")
    artifact = artifact_file(version, path="weights/model.onnx")
    missing = to_base64("RegisteredModel", 999999)

    result = gql("""query($ids: [ID!]!) { nodes(ids: $ids) { __typename
        ... on RegisteredModel { name } ... on ModelVersion { version }
        ... on ArtifactFile { path } } }""",
                 {"ids": [gid(version.model), gid(version), gid(artifact), missing]})

    assert result.data["nodes"] == [
        {"__typename": "RegisteredModel", "name": "det"},
        {"__typename": "ModelVersion", "version": "1.0.0"},
        {"__typename": "ArtifactFile", "path": "weights/model.onnx"},
        None,
    ]


def test_set_version_state(gql, maintainer, default_tenant):
    version = ModelVersionFactory(model__tenant=default_tenant, model__owner=maintainer)

    result = gql("""mutation($v: ID!) { setVersionState(data: {versionId: $v, state: ARCHIVED})
        { ... on ModelVersion { state } } }""", {"v": gid(version)})

    assert result.data["setVersionState"] == {"state": "ARCHIVED"}


def test_new_tags_become_folk_entries_of_the_tenant(gql, default_tenant):
    gql(CREATE_MODEL, {"data": {"name": "m", "tags": ["fresh"]}})

    assert list(Tag.objects.values_list("tenant_id", "name", "usage")) == [
        (default_tenant.pk, "fresh", "folk")]
