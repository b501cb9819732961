"""Every Django-backed GraphQL type restricts its rows through RestrictedNode."""

from types import SimpleNamespace

import pytest
from django.db.models import QuerySet
from strawberry_django.utils.typing import has_django_definition

from config.graphql_node import RestrictedNode
from config.schema import schema


def django_backed_output_types() -> dict[str, type]:
    return {
        name: concrete.definition.origin
        for name, concrete in schema.schema_converter.type_map.items()
        if has_django_definition(getattr(concrete.definition, "origin", None))
        and not getattr(concrete.definition, "is_input", False)
    }


def test_every_django_backed_type_is_a_restricted_node():
    types = django_backed_output_types()

    assert {name for name, origin in types.items()
            if not issubclass(origin, RestrictedNode)} == set()
    # The walk sees the types it must: a type missing here would not be checked at all.
    assert {"User", "Membership", "TenantGroup", "Tenant", "ApiToken", "Tag", "MetadataKey",
            "ArtifactFile", "UploadSession", "ModelVersion", "DatasetVersion", "ModelAlias",
            "RegisteredModel", "Dataset", "ScanReport", "ScanFinding"} <= set(types)


def test_only_users_are_restricted_at_lookup_alone():
    types = django_backed_output_types()

    assert {name for name, origin in types.items() if hasattr(origin, "restrict_lookup")} == {
        "User"}


def test_get_queryset_applies_the_declared_restriction_with_the_callers_actor():
    class Probe(RestrictedNode):
        @staticmethod
        def restrict(queryset, actor):
            return ("restricted", queryset, actor)

    info = SimpleNamespace(context=SimpleNamespace(actor="the actor"))

    assert Probe.get_queryset("rows", info) == ("restricted", "rows", "the actor")


def test_a_type_without_a_restriction_cannot_be_created():
    with pytest.raises(TypeError, match="Unrestricted must declare exactly one of restrict, "
                                        "restrict_lookup"):
        class Unrestricted(RestrictedNode):
            name: str


def test_a_type_with_its_own_get_queryset_cannot_be_created():
    with pytest.raises(TypeError, match="OwnQueryset must declare exactly one"):
        class OwnQueryset(RestrictedNode):
            restrict = staticmethod(lambda queryset, actor: queryset)

            @classmethod
            def get_queryset(cls, queryset: QuerySet, info, **kwargs) -> QuerySet:
                return queryset


def test_a_type_with_both_restrictions_cannot_be_created():
    with pytest.raises(TypeError, match="Both must declare exactly one"):
        class Both(RestrictedNode):
            restrict = staticmethod(lambda queryset, actor: queryset)
            restrict_lookup = staticmethod(lambda queryset, actor: queryset)
