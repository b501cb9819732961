"""Aliases set before history was kept start it with a `set` at their last change."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("registry", "0006_name_page_index")]
AFTER = [("registry", "0007_alias_history_protection")]


@pytest.mark.django_db(transaction=True)
def test_existing_aliases_get_a_set_entry(default_tenant):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    user = old.get_model("accounts", "User").objects.create(username="ada")
    model = old.get_model("registry", "RegisteredModel").objects.create(
        tenant_id=default_tenant.pk, owner=user, name="detector")
    version = old.get_model("registry", "ModelVersion").objects.create(
        model=model, version="1.0.0", version_major=1, version_minor=0, version_patch=0,
        version_prerelease="~", created_by=user)
    alias = old.get_model("registry", "ModelAlias").objects.create(model=model,
                                                                   name="production",
                                                                   version=version)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps

    assert list(new.get_model("registry", "ModelAliasEvent").objects.values(
        "model_id", "alias", "action", "version_id", "previous_version_id", "at", "actor_id"
    )) == [{"model_id": model.pk, "alias": "production", "action": "set",
            "version_id": version.pk, "previous_version_id": None, "at": alias.updated_at,
            "actor_id": None}]
    executor.loader.build_graph()
    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
