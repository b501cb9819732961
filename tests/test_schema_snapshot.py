"""The committed SDL is the API contract: a change to the schema must be deliberate."""

from pathlib import Path

from strawberry.printer import print_schema

from config.schema import schema

SNAPSHOT = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_schema_matches_committed_snapshot():
    assert print_schema(schema).strip() == SNAPSHOT.read_text().strip(), (
        "The GraphQL schema changed. If intended, regenerate the snapshot: "
        ".venv/bin/python manage.py export_schema config.schema --path schema.graphql"
    )


def test_api_contract_names_exist():
    sdl = print_schema(schema)
    for name in ["viewer", "node(", "nodes(", "models(", "datasets(", "tags(", "metadataKeys(",
                 "findModelVersion(", "errorCodes", "serverInfo", "createModel(",
                 "updateModel(", "deleteModel(", "createModelVersion(", "createDataset(",
                 "updateDataset(", "deleteDataset(", "createDatasetVersion(", "uploadFile(",
                 "setModelAlias(", "removeModelAlias(", "createDefaultTag(", "deleteTag(",
                 "createDefaultMetadataKey(", "deleteMetadataKey("]:
        assert f"  {name}" in sdl, name
