"""Protected aliases and immutable versions as the real MlflowClient meets them: refusals
in MLflow's error shape, and alias moves through MLflow kept in the alias history."""

import pytest
from mlflow.exceptions import RestException

from accounts.models import Role, User
from accounts.selectors import actor_for
from registry import services
from registry.models import AccessLevel, ModelAlias, ModelAliasEvent, ModelVersion, RegisteredModel
from tests.mlflow_compat.conftest import token_of

pytestmark = pytest.mark.django_db(transaction=True)


def refusal(call, *args) -> tuple[str, str]:
    """The error code and the server's message (the client prefixes it with the code)."""
    with pytest.raises(RestException) as raised:
        call(*args)
    code = raised.value.error_code
    return code, raised.value.message.removeprefix(f"{code}: ")


@pytest.fixture
def aliased(client, maintainer_token, default_tenant):
    """`detector` with versions 1 and 2, `production` on 1; its owner's actor."""
    client.create_registered_model("detector")
    client.create_model_version("detector", "s3://bucket/v1")
    client.create_model_version("detector", "s3://bucket/v2")
    client.set_registered_model_alias("detector", "production", "1")
    return actor_for(user=User.objects.get(username="ada"), tenant=default_tenant)


def test_alias_moves_through_mlflow_are_kept_in_the_history(client, aliased):
    client.set_registered_model_alias("detector", "production", "2")
    client.delete_registered_model_alias("detector", "production")

    assert list(ModelAliasEvent.objects.order_by("id").values_list(
        "action", "version__version", "previous_version__version", "actor__username")) == [
        ("set", "1.0.0", None, "ada"), ("moved", "2.0.0", "1.0.0", "ada"),
        ("removed", None, "2.0.0", "ada")]


def test_a_protected_alias_is_permission_denied_to_a_member(client, aliased, as_user,
                                                            member_factory, default_tenant):
    model = RegisteredModel.objects.get(name="detector")
    services.model_alias_protect(actor=aliased, model_id=model.pk, alias="production",
                                 protected=True)
    editor = member_factory(Role.MAINTAINER, username="bea")
    services.catalog_entry_share(entry_class=RegisteredModel, actor=aliased, entry_id=model.pk,
                                 level=AccessLevel.CHANGE, user_ids=[editor.pk], group_ids=[])
    as_user(token_of(editor, default_tenant))

    expected = ("PERMISSION_DENIED",
                "The alias 'production' is protected; only those who manage the model move it.")
    assert refusal(client.set_registered_model_alias, "detector", "production", "2") == expected
    assert refusal(client.delete_registered_model_alias, "detector", "production") == expected
    assert ModelAlias.objects.get(model=model, name="production").version.version == "1.0.0"


def test_an_immutable_version_is_an_invalid_parameter_for_update_and_delete(client, aliased):
    client.delete_registered_model_alias("detector", "production")
    version = ModelVersion.objects.get(model__name="detector", version="1.0.0")
    services.version_immutable_set(actor=aliased, version=version, immutable=True)
    message = ("The version is immutable: its files and content cannot change and it cannot "
               "be deleted.")

    assert refusal(client.delete_model_version, "detector", "1") == (
        "INVALID_PARAMETER_VALUE", f"version: {message}")
    assert refusal(client.update_model_version, "detector", "1", "changed") == (
        "INVALID_PARAMETER_VALUE", f"version: {message}")
    assert refusal(client.set_model_version_tag, "detector", "1", "stage", "qa") == (
        "INVALID_PARAMETER_VALUE", f"version: {message}")
    version.refresh_from_db()
    assert (version.description, version.immutable) == ("", True)
    assert ModelVersion.objects.filter(pk=version.pk).exists() is True
