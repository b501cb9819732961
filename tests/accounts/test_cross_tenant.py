"""Tenant A's objects, asked for by tenant B's admin through every query, every mutation and
the download URLs, are indistinguishable from objects that do not exist; a refused
mutation changes nothing; and names are per tenant, so B may reuse A's.

Placeholders in the variables: `@key` is the target's global id (A's object, or an id
that exists nowhere), `~key` one of B's own objects, `$key` a name of the target's.
"""

import pytest
from django.test import Client

from registry.models import LineageLink
from tests.accounts.conftest import bearer, login, served_status
from tests.accounts.world import (
    add_trash,
    build_world,
    database_snapshot,
    missing_ids,
    missing_names,
    missing_urls,
)

ERRORS = "__typename ... on OperationInfo { messages { kind code field message } }"


def mutation(signature: str, call: str) -> str:
    return f"mutation{signature} {{ result: {call} {{ {ERRORS} }} }}"


MUTATIONS = {
    "revokeApiToken": (mutation("($id: ID!)", "revokeApiToken(id: $id)"), {"id": "@api_token"}),
    "deleteTenant": (mutation("($id: ID!, $slug: String!)",
                              "deleteTenant(id: $id, confirmSlug: $slug)"),
                     {"id": "@tenant", "slug": "$slug"}),
    "updateTenant": (mutation("($id: ID!)", 'updateTenant(data: {id: $id, scanPolicy: "warn", '
                              "allowAnonymousRead: true})"), {"id": "@tenant"}),
    "setMemberRole": (mutation("($user: ID!)", "setMemberRole(userId: $user, role: VIEWER)"),
                      {"user": "@member"}),
    "removeMember": (mutation("($user: ID!)", "removeMember(userId: $user)"),
                     {"user": "@member"}),
    "deleteGroup": (mutation("($id: ID!)", "deleteGroup(id: $id)"), {"id": "@group"}),
    "addGroupMember/their group": (
        mutation("($group: ID!, $user: ID!)", "addGroupMember(groupId: $group, userId: $user)"),
        {"group": "@group", "user": "~member"}),
    "addGroupMember/their user": (
        mutation("($group: ID!, $user: ID!)", "addGroupMember(groupId: $group, userId: $user)"),
        {"group": "~group", "user": "@member"}),
    "removeGroupMember/their group": (
        mutation("($group: ID!, $user: ID!)",
                 "removeGroupMember(groupId: $group, userId: $user)"),
        {"group": "@group", "user": "@member"}),
    "removeGroupMember/their user": (
        mutation("($group: ID!, $user: ID!)",
                 "removeGroupMember(groupId: $group, userId: $user)"),
        {"group": "~group", "user": "@member"}),
    "updateModel": (mutation("($data: UpdateModelInput!)", "updateModel(data: $data)"),
                    {"data": {"id": "@model", "description": "taken over"}}),
    "updateModel/link their dataset": (
        mutation("($data: UpdateModelInput!)", "updateModel(data: $data)"),
        {"data": {"id": "~model", "datasets": {"add": ["@dataset"]}}}),
    "updateModel/share with their user": (
        mutation("($data: UpdateModelInput!)", "updateModel(data: $data)"),
        {"data": {"id": "~model", "users": {"add": ["@member"]}}}),
    "deleteModel": (mutation("($id: ID!)", "deleteModel(id: $id)"), {"id": "@model"}),
    "updateDataset": (mutation("($data: UpdateDatasetInput!)", "updateDataset(data: $data)"),
                      {"data": {"id": "@dataset", "description": "taken over"}}),
    "deleteDataset": (mutation("($id: ID!)", "deleteDataset(id: $id)"), {"id": "@dataset"}),
    "createModel/their dataset": (
        mutation("($data: CreateModelInput!)", "createModel(data: $data)"),
        {"data": {"name": "brand-new", "datasets": ["@dataset"]}}),
    "createModel/their user": (
        mutation("($data: CreateModelInput!)", "createModel(data: $data)"),
        {"data": {"name": "brand-new", "users": ["@member"]}}),
    "createDataset/their user": (
        mutation("($data: CreateDatasetInput!)", "createDataset(data: $data)"),
        {"data": {"name": "brand-new", "users": ["@member"]}}),
    "createModelVersion": (
        mutation("($data: CreateModelVersionInput!)", "createModelVersion(data: $data)"),
        {"data": {"modelId": "@model", "version": "9.0.0"}}),
    "createModelVersion/their dataset version": (
        mutation("($data: CreateModelVersionInput!)", "createModelVersion(data: $data)"),
        {"data": {"modelId": "~model", "version": "9.0.0",
                  "datasetVersions": ["@dataset_version"]}}),
    "createDatasetVersion": (
        mutation("($data: CreateDatasetVersionInput!)", "createDatasetVersion(data: $data)"),
        {"data": {"datasetId": "@dataset", "version": "9.0.0"}}),
    "setVersionState": (
        mutation("($data: SetVersionStateInput!)", "setVersionState(data: $data)"),
        {"data": {"versionId": "@model_version", "state": "ARCHIVED"}}),
    "updateModelVersion": (
        mutation("($data: UpdateModelVersionInput!)", "updateModelVersion(data: $data)"),
        {"data": {"id": "@model_version", "description": "taken over"}}),
    "updateModelVersion/link their dataset version": (
        mutation("($data: UpdateModelVersionInput!)", "updateModelVersion(data: $data)"),
        {"data": {"id": "~model_version", "datasetVersions": {"add": ["@dataset_version"]}}}),
    "updateDatasetVersion": (
        mutation("($data: UpdateDatasetVersionInput!)", "updateDatasetVersion(data: $data)"),
        {"data": {"id": "@dataset_version", "description": "taken over"}}),
    "deleteModelVersion": (mutation("($id: ID!)", "deleteModelVersion(id: $id)"),
                           {"id": "@model_version"}),
    "deleteDatasetVersion": (mutation("($id: ID!)", "deleteDatasetVersion(id: $id)"),
                             {"id": "@dataset_version"}),
    "deleteFile": (mutation("($id: ID!)", "deleteFile(id: $id)"), {"id": "@file"}),
    "deleteFile/dataset file": (mutation("($id: ID!)", "deleteFile(id: $id)"),
                                {"id": "@dataset_file"}),
    "setModelAlias": (
        mutation("($model: ID!, $version: ID!)",
                 'setModelAlias(modelId: $model, alias: "prod", versionId: $version)'),
        {"model": "@model", "version": "@model_version"}),
    "setModelAlias/their version": (
        mutation("($model: ID!, $version: ID!)",
                 'setModelAlias(modelId: $model, alias: "prod", versionId: $version)'),
        {"model": "~model", "version": "@model_version"}),
    "removeModelAlias": (
        mutation("($model: ID!, $alias: String!)",
                 "removeModelAlias(modelId: $model, alias: $alias)"),
        {"model": "@model", "alias": "$alias"}),
    "protectModelAlias": (
        mutation("($model: ID!, $alias: String!)",
                 "protectModelAlias(modelId: $model, alias: $alias, protected: true)"),
        {"model": "@model", "alias": "$alias"}),
    "setModelVersionImmutable": (
        mutation("($id: ID!)", "setModelVersionImmutable(id: $id, immutable: true)"),
        {"id": "@model_version"}),
    "setDatasetVersionImmutable": (
        mutation("($id: ID!)", "setDatasetVersionImmutable(id: $id, immutable: true)"),
        {"id": "@dataset_version"}),
    "deleteTag": (mutation("($id: ID!)", "deleteTag(id: $id)"), {"id": "@tag"}),
    "deleteMetadataKey": (mutation("($id: ID!)", "deleteMetadataKey(id: $id)"),
                          {"id": "@metadata_key"}),
    "shareObject/their model": (
        mutation("($id: ID!, $users: [ID!])",
                 "shareObject(id: $id, users: $users, permission: MANAGE)"),
        {"id": "@model", "users": ["~member"]}),
    "shareObject/their dataset": (
        mutation("($id: ID!, $users: [ID!])",
                 "shareObject(id: $id, users: $users, permission: VIEW)"),
        {"id": "@dataset", "users": ["~member"]}),
    "shareObject/with their user": (
        mutation("($id: ID!, $users: [ID!])",
                 "shareObject(id: $id, users: $users, permission: VIEW)"),
        {"id": "~model", "users": ["@member"]}),
    "shareObject/with their group": (
        mutation("($id: ID!, $groups: [ID!])",
                 "shareObject(id: $id, groups: $groups, permission: VIEW)"),
        {"id": "~model", "groups": ["@group"]}),
    "unshareObject": (
        mutation("($id: ID!, $users: [ID!])",
                 "unshareObject(id: $id, users: $users, permission: VIEW)"),
        {"id": "@model", "users": ["~member"]}),
    "startUpload": (
        mutation("($version: ID!)", 'startUpload(versionId: $version, path: "x.bin", size: 10, '
                 f'sha256: "{"0" * 64}", partCount: 1)'),
        {"version": "@model_version"}),
    "startUpload/dataset version": (
        mutation("($version: ID!)", 'startUpload(versionId: $version, path: "x.bin", size: 10, '
                 f'sha256: "{"0" * 64}", partCount: 1)'),
        {"version": "@dataset_version"}),
    "completeUpload": (
        mutation("($upload: ID!)",
                 'completeUpload(uploadId: $upload, parts: [{partNumber: 1, etag: "x"}])'),
        {"upload": "@upload"}),
    "abortUpload": (mutation("($upload: ID!)", "abortUpload(uploadId: $upload)"),
                    {"upload": "@upload"}),
    "rescan/file": (mutation("($file: ID!)", "rescan(fileId: $file)"), {"file": "@file"}),
    "rescan/version": (mutation("($version: ID!)", "rescan(versionId: $version)"),
                       {"version": "@model_version"}),
    "releaseFile": (mutation("($file: ID!)", 'releaseFile(fileId: $file, reason: "mine now")'),
                    {"file": "@file"}),
    "updateWebhook": (mutation("($data: UpdateWebhookInput!)", "updateWebhook(data: $data)"),
                      {"data": {"id": "@webhook", "url": "https://taken.example/over"}}),
    "rotateWebhookSecret": (mutation("($id: ID!)", "rotateWebhookSecret(id: $id)"),
                            {"id": "@webhook"}),
    "deleteWebhook": (mutation("($id: ID!)", "deleteWebhook(id: $id)"), {"id": "@webhook"}),
    "testWebhook": (mutation("($id: ID!)", "testWebhook(id: $id)"), {"id": "@webhook"}),
    "updateServingEnvironment": (
        mutation("($data: UpdateServingEnvironmentInput!)",
                 "updateServingEnvironment(data: $data)"),
        {"data": {"id": "@environment", "description": "taken over"}}),
    "deleteServingEnvironment": (mutation("($id: ID!)", "deleteServingEnvironment(id: $id)"),
                                 {"id": "@environment"}),
    "approveCleanupProposal": (
        mutation("($id: ID!)", "approveCleanupProposal(data: {id: $id})"),
        {"id": "@cleanup_proposal"}),
    "approveCleanupProposal/their item": (
        mutation("($id: ID!, $item: ID!)",
                 "approveCleanupProposal(data: {id: $id, itemIds: [$item]})"),
        {"id": "~cleanup_proposal", "item": "@cleanup_item"}),
    "excludeCleanupItem": (mutation("($id: ID!)", "excludeCleanupItem(id: $id)"),
                           {"id": "@cleanup_item"}),
    "createInferenceService/their environment": (
        mutation("($data: CreateInferenceServiceInput!)", "createInferenceService(data: $data)"),
        {"data": {"environmentId": "@environment", "modelVersionId": "~model_version",
                  "name": "taken-over"}}),
    "createInferenceService/their version": (
        mutation("($data: CreateInferenceServiceInput!)", "createInferenceService(data: $data)"),
        {"data": {"environmentId": "~environment", "modelVersionId": "@model_version",
                  "name": "taken-over"}}),
    "updateInferenceService": (
        mutation("($data: UpdateInferenceServiceInput!)", "updateInferenceService(data: $data)"),
        {"data": {"id": "@inference_service", "state": "UNDEPLOYED"}}),
    "updateInferenceService/to their version": (
        mutation("($data: UpdateInferenceServiceInput!)", "updateInferenceService(data: $data)"),
        {"data": {"id": "~inference_service", "modelVersionId": "@model_version"}}),
    "deleteInferenceService": (mutation("($id: ID!)", "deleteInferenceService(id: $id)"),
                               {"id": "@inference_service"}),
    "restoreModelVersion": (mutation("($id: ID!)", "restoreModelVersion(id: $id)"),
                            {"id": "@trashed_model_version"}),
    "restoreDatasetVersion": (mutation("($id: ID!)", "restoreDatasetVersion(id: $id)"),
                              {"id": "@trashed_dataset_version"}),
    "restoreFile": (mutation("($id: ID!)", "restoreFile(id: $id)"), {"id": "@trashed_file"}),
}
UPLOAD_FILE = mutation("($version: ID!, $file: Upload!)",
                       'uploadFile(versionId: $version, path: "new.onnx", file: $file)')

CATALOG = "totalCount edges { node { id name } }"
QUERIES = {
    **{f"node/{key}": ("query($id: ID!) { node(id: $id) { __typename id } }", {"id": f"@{key}"})
       for key in ["model", "dataset", "model_version", "dataset_version", "file",
                   "dataset_file", "alias", "tag", "metadata_key", "group", "api_token",
                   "upload", "member", "admin", "tenant", "membership", "webhook",
                   "webhook_delivery", "environment", "inference_service", "cleanup_proposal",
                   "cleanup_item", "trashed_model_version", "trashed_dataset_version",
                   "trashed_file"]},
    "nodes": ("query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
              {"ids": ["@model", "@dataset", "@model_version", "@dataset_version", "@file",
                       "@alias", "@tag", "@metadata_key", "@group", "@api_token", "@upload",
                       "@member", "@tenant", "@membership", "@webhook",
                       "@webhook_delivery", "@environment", "@inference_service",
                       "@cleanup_proposal", "@cleanup_item"]}),
    **{f"models/{name}": (
        f"query($f: RegisteredModelFilter) {{ models(filters: $f) {{ {CATALOG} }} }}",
        {"f": filters})
       for name, filters in {
           "name exact": {"name": {"exact": "$model"}},
           "name prefix": {"name": {"startsWith": "$model"}},
           "name contains": {"name": {"iContains": "$model"}},
           "project": {"projectName": {"exact": "$project"}},
           "category": {"category": {"exact": "$category"}},
           "owner": {"owner": "$owner"},
           "tags": {"tags": ["$tag"]},
           "metadata": {"metadata": [{"name": "$metadata_key", "value": "perception"}]},
           "search": {"search": "$word"},
       }.items()},
    **{f"datasets/{name}": (
        f"query($f: DatasetFilter) {{ datasets(filters: $f) {{ {CATALOG} }} }}",
        {"f": filters})
       for name, filters in {
           "name exact": {"name": {"exact": "$dataset"}},
           "tags": {"tags": ["$tag"]},
           "metadata": {"metadata": [{"name": "$metadata_key", "value": "perception"}]},
           "search": {"search": "$word"},
       }.items()},
    "tags/autocomplete": (
        "query($p: String!) { tags(filters: {prefix: $p}) { totalCount edges { node { name "
        "usageCount } } } }", {"p": "$tag"}),
    "tags/exact": ("query($p: String!) { tags(filters: {name: {exact: $p}}) { totalCount } }",
                   {"p": "$tag"}),
    "metadataKeys/autocomplete": (
        "query($p: String!) { metadataKeys(filters: {prefix: $p}) { totalCount edges { node { "
        "name usageCount } } } }", {"p": "$metadata_key"}),
    **{f"findModelVersion/{argument}": (
        f"query($v: String) {{ findModelVersion({argument}: $v) {{ id version }} }}",
        {"v": f"${key}"})
       for argument, key in [("name", "model"), ("alias", "alias"), ("projectName", "project"),
                             ("category", "category")]},
    "scanReports/model version": (
        "query($v: ID!) { scanReports(versionId: $v) { totalCount } }",
        {"v": "@model_version"}),
    "scanReports/dataset version": (
        "query($v: ID!) { scanReports(versionId: $v) { totalCount } }",
        {"v": "@dataset_version"}),
    "aliasHistory": (
        "query($m: ID!, $a: String!) { aliasHistory(modelId: $m, alias: $a) { totalCount "
        "edges { node { id version { id } actorName } } } }",
        {"m": "@model", "a": "$alias"}),
    "modelVersionAt": (
        'query($m: ID!, $a: String!) { modelVersionAt(modelId: $m, alias: $a, '
        'at: "2999-01-01T00:00:00+00:00") { id } }',
        {"m": "@model", "a": "$alias"}),
    "webhookDeliveries": (
        "query($w: ID!) { webhookDeliveries(webhookId: $w) { totalCount edges { node { id } } } }",
        {"w": "@webhook"}),
    "servingEnvironments/name exact": (
        "query($n: String!) { servingEnvironments(filters: {name: {exact: $n}}) { totalCount "
        "edges { node { id } } } }", {"n": "$environment"}),
    **{f"inferenceServices/{name}": (
        "query($f: InferenceServiceFilter) { inferenceServices(filters: $f) { totalCount "
        "edges { node { id } } } }", {"f": filters})
       for name, filters in {
           "name exact": {"name": {"exact": "$inference_service"}},
           "environment": {"environment": "@environment"},
           "model version": {"modelVersion": "@model_version"},
           "model": {"model": "@model"},
       }.items()},
    "datasetVersionImpact": (
        "query($id: ID!) { datasetVersionImpact(id: $id) { modelVersions { id } "
        "inferenceServices { id } } }", {"id": "@dataset_version"}),
    "modelVersionLineage": (
        "query($id: ID!) { modelVersionLineage(id: $id) { datasetVersions { id } } }",
        {"id": "@model_version"}),
    **{f"auditLog/{key}": (
        "query($o: ID!) { auditLog(objectId: $o) { totalCount edges { node { action } } } }",
        {"o": f"@{key}"})
       for key in ["model", "dataset", "model_version", "file", "alias", "tenant", "membership",
                   "api_token", "group"]},
}


@pytest.fixture
def tenants(db, default_tenant):
    """Tenant A with one object of every kind, and tenant B, its mirror, whose admin asks."""
    a, b = build_world("alpha"), build_world("bravo")
    add_trash(a)
    add_trash(b)
    return a, b, login(b.admin.username, tenant=b.tenant.slug)["accessToken"]


def fill(value, target_ids: dict, own_ids: dict, names: dict):
    if isinstance(value, dict):
        return {k: fill(v, target_ids, own_ids, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, target_ids, own_ids, names) for v in value]
    if isinstance(value, str) and value[:1] in "@~$":
        return {"@": target_ids, "~": own_ids, "$": names}[value[0]][value[1:]]
    return value


def ask_about_both(client, query: str, variables: dict, a, b) -> tuple[dict, dict]:
    """The answers for A's objects and for objects that do not exist."""
    own = b.ids()
    theirs = client(query, fill(variables, a.ids(), own, a.names()))
    nothing = client(query, fill(variables, missing_ids(a), own, missing_names(a)))
    assert (theirs.status_code, nothing.status_code) == (200, 200)
    return theirs.body, nothing.body


@pytest.mark.parametrize("operation", QUERIES)
def test_queries_cannot_tell_another_tenants_objects_from_missing_ones(operation, tenants):
    a, b, token = tenants
    query, variables = QUERIES[operation]

    theirs, nothing = ask_about_both(bearer(token), query, variables, a, b)

    assert theirs == nothing
    assert "errors" not in theirs


@pytest.mark.parametrize("operation", MUTATIONS)
def test_mutations_on_another_tenants_objects_fail_as_for_missing_ones_and_change_nothing(
        operation, tenants):
    a, b, token = tenants
    query, variables = MUTATIONS[operation]
    before = database_snapshot()

    theirs, nothing = ask_about_both(bearer(token), query, variables, a, b)

    assert theirs == nothing
    assert theirs["data"]["result"]["__typename"] == "OperationInfo"
    assert database_snapshot() == before


def test_upload_file_to_another_tenants_version_fails_as_for_a_missing_one(tenants):
    a, b, token = tenants
    before = database_snapshot()

    answers = [
        bearer(token).upload(UPLOAD_FILE, {"version": version, "file": None},
                             {"variables.file": ("new.onnx", b"bytes")}).body
        for version in (a.ids()["model_version"], missing_ids(a)["model_version"])
    ]

    assert answers[0] == answers[1]
    assert answers[0]["data"]["result"]["__typename"] == "OperationInfo"
    assert database_snapshot() == before


@pytest.mark.parametrize("url", ["file", "dataset_file", "model_archive", "dataset_archive"])
def test_download_urls_of_another_tenant_answer_like_missing_ones(url, tenants):
    a, b, token = tenants
    client = Client(headers={"Authorization": f"Bearer {token}"})

    theirs, nothing = client.get(a.urls()[url]), client.get(missing_urls()[url])
    own = client.get(b.urls()[url])

    assert (theirs.status_code, theirs.content) == (nothing.status_code, nothing.content)
    assert theirs.status_code == 404
    # The same URL shape works for B's own objects.
    assert own.status_code == (served_status() if url.endswith("file") else 200)


def test_nested_relations_never_reach_into_another_tenant(tenants):
    """Even a link across tenants (which no service creates) stays invisible."""
    a, b, token = tenants
    query = """query($id: ID!) { node(id: $id) { ... on RegisteredModel {
      datasets { name } latestVersion { version datasetVersions { version dataset { name } } }
      versions { totalCount edges { node { files { path } } } } } } }"""
    before = bearer(token)(query, {"id": b.ids()["model"]}).data
    b.model.datasets.add(a.dataset)
    LineageLink.objects.create(model_version=b.model_version, dataset_version=a.dataset_version)

    after = bearer(token)(query, {"id": b.ids()["model"]}).data

    assert after == before
    assert after["node"]["datasets"] == [{"name": "bravo-images"}]


def test_counts_lists_and_the_tenant_directory_show_only_the_callers_tenant(tenants):
    a, b, token = tenants

    data = bearer(token)("""{
      models { totalCount edges { node { name } } }
      datasets { totalCount }
      tags { totalCount edges { node { name usageCount } } }
      metadataKeys { totalCount }
      tenants { totalCount edges { node { slug members { totalCount edges { node {
        user { username } role } } } groups { edges { node { name members { username }
        } } } } } }
      viewer { memberships { tenantSlug role } apiTokens { name } }
      webhooks { totalCount edges { node { url } } }
      servingEnvironments { totalCount edges { node { name } } }
      inferenceServices { totalCount edges { node { name } } }
      cleanupProposals { totalCount edges { node { items { edges { node { label } } } } } }
      retentionPolicy { enabled }
    }""").data

    assert data == {
        "models": {"totalCount": 1, "edges": [{"node": {"name": "bravo-detector"}}]},
        "datasets": {"totalCount": 1},
        "tags": {"totalCount": 1, "edges": [{"node": {"name": "bravo-vision",
                                                      "usageCount": 2}}]},
        "metadataKeys": {"totalCount": 1},
        "tenants": {"totalCount": 1, "edges": [{"node": {
            "slug": "bravo-corp",
            "members": {"totalCount": 2, "edges": [
                {"node": {"user": {"username": "bravo-admin"}, "role": "ADMIN"}},
                {"node": {"user": {"username": "bravo-member"}, "role": "MAINTAINER"}}]},
            "groups": {"edges": [{"node": {"name": "bravo-team",
                                           "members": [{"username": "bravo-member"}]}}]},
        }}]},
        "viewer": {"memberships": [{"tenantSlug": "bravo-corp", "role": "ADMIN"}],
                   "apiTokens": []},
        "webhooks": {"totalCount": 1, "edges": [
            {"node": {"url": "https://hooks.bravo.example/registry"}}]},
        "servingEnvironments": {"totalCount": 1, "edges": [{"node": {"name": "bravo-edge"}}]},
        "inferenceServices": {"totalCount": 1, "edges": [
            {"node": {"name": "bravo-detector-edge"}}]},
        "cleanupProposals": {"totalCount": 1, "edges": [{"node": {"items": {"edges": [
            {"node": {"label": "bravo-images 1.0.0"}}]}}}]},
        "retentionPolicy": {"enabled": False},
    }


@pytest.mark.parametrize(("create", "name_key"), [
    ("createModel(data: {name: $name})", "model"),
    ("createDataset(data: {name: $name})", "dataset"),
    ("createDefaultTag(data: {name: $name})", "tag"),
    ("createDefaultMetadataKey(data: {name: $name})", "metadata_key"),
    ("createGroup(name: $name)", "group"),
    ("createServingEnvironment(data: {name: $name})", "environment"),
])
def test_names_are_per_tenant_so_another_tenants_names_are_free(create, name_key, tenants):
    a, b, token = tenants
    query = (f"mutation($name: String!) {{ result: {create} {{ __typename "
             f"... on OperationInfo {{ messages {{ code }} }} }} }}")

    result = bearer(token)(query, {"name": a.names()[name_key]})

    assert result.data["result"]["__typename"] != "OperationInfo", result.body


def test_every_mutation_and_query_is_in_the_matrix():
    """A new mutation or query must join the matrix above (or be listed as exempt here)."""
    from config.schema import schema

    exempt_mutations = {
        # No object of a tenant is named: credentials, creations in the caller's tenant.
        "login", "refreshToken", "logout", "createApiToken", "createTenant", "addMember",
        "createModel", "createDataset", "createGroup", "createDefaultTag",
        "createDefaultMetadataKey", "createWebhook", "createServingEnvironment",
        "updateRetentionPolicy",
    }
    exempt_queries = {"errorCodes", "serverInfo", "viewer", "tenants", "models", "datasets",
                      "tags", "metadataKeys", "webhooks", "cleanupProposals",
                      "retentionPolicy",
                      # The caller's own tenant's: test_the_trash_lists_only_the_callers_tenant
                      "trash"}
    covered = {name.split("/")[0] for name in [*MUTATIONS, *QUERIES]} | {"uploadFile"}
    graphql_schema = schema._schema

    assert set(graphql_schema.mutation_type.fields) - exempt_mutations - covered == set()
    assert set(graphql_schema.query_type.fields) - exempt_queries - covered == set()


@pytest.mark.parametrize("operation", MUTATIONS)
def test_the_same_mutations_reach_the_callers_own_objects(operation, tenants):
    """Aimed at B's own objects the requests get past the lookup, so the refusals above are
    not artefacts of malformed requests."""
    a, b, token = tenants
    query, variables = MUTATIONS[operation]

    result = bearer(token)(query, fill(variables, b.ids(), b.ids(), b.names())).data["result"]

    codes = [message["code"] for message in result.get("messages", [])]
    assert "not_found" not in codes, result


def test_the_trash_lists_only_the_callers_tenant(tenants):
    a, b, token = tenants

    data = bearer(token)("{ trash { id name size reason trashedBy } }").data

    assert data == {"trash": [
        {"id": b.ids()["trashed_file"], "name": "bravo-detector 2.0.0/old.onnx", "size": 17,
         "reason": "test", "trashedBy": "bravo-admin"},
        {"id": b.ids()["trashed_dataset_version"], "name": "bravo-images 0.9.0", "size": 9,
         "reason": "test", "trashedBy": "bravo-admin"},
        {"id": b.ids()["trashed_model_version"], "name": "bravo-detector 0.9.0", "size": 9,
         "reason": "test", "trashedBy": "bravo-admin"},
    ]}
