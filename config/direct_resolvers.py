"""Direct resolvers for the fields of model types that only read what a page already loaded.

strawberry-django resolves every field of a model type through its generic resolver: an Info
object, argument parsing, the field-extension chain, then a lookup of the model attribute's
descriptor. A page of 100 models resolves about 1,300 fields, and that machinery was most of
its CPU time. The resolvers installed here read the value directly, and hand anything they do
not recognise back to strawberry-django's own resolver, so the result is the same:

- the relay `id`: the type name and the loaded primary key, as `Node` computes it;
- a plain column (no relation, no file) loaded on the object: the model attribute;
- a foreign key already loaded on the object (select_related, or the optimizer's prefetch,
  which ran the target type's `get_queryset`): that object;
- a many-to-many list the optimizer prefetched (through the target type's `get_queryset`,
  so already restricted to what the caller may see): the prefetched rows. Any other state
  (no prefetch, a prefetch of unknown origin, filter or order arguments) takes the generic
  resolver, which applies `get_queryset` itself.
"""

from collections.abc import Callable
from typing import Any

import strawberry
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Field, FileField, Model, QuerySet
from graphql import GraphQLField, GraphQLObjectType
from strawberry import relay
from strawberry.relay import GlobalID
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry_django.fields.field import StrawberryDjangoField
from strawberry_django.optimizer import is_optimized_by_prefetching
from strawberry_django.relay.utils import resolve_model_id
from strawberry_django.utils.typing import has_django_definition

Resolver = Callable[..., Any]


def install_direct_resolvers(built: strawberry.Schema) -> None:
    for graphql_type in built.schema_converter.type_map.values():
        origin = getattr(graphql_type.definition, "origin", None)
        if not (isinstance(graphql_type.implementation, GraphQLObjectType)
                and has_django_definition(origin)):
            continue
        model = origin.__strawberry_django_definition__.model
        for name, graphql_field in graphql_type.implementation.fields.items():
            if name == "id" and issubclass(origin, relay.Node):
                resolver = _node_id_resolver(origin, model, graphql_field.resolve)
            else:
                resolver = _model_field_resolver(graphql_field, model)
            if resolver is not None:
                graphql_field.resolve = resolver


def _node_id_resolver(origin: type[relay.Node], model: type[Model],
                      generic: Resolver) -> Resolver | None:
    # Only for types that keep strawberry-django's id (the primary key).
    if (getattr(origin.resolve_id, "__func__", None) is not resolve_model_id
            or origin.resolve_id_attr() not in ("pk", model._meta.pk.attname)):
        return None
    attname = model._meta.pk.attname

    def resolve_id(source: Model, info, **kwargs) -> GlobalID:
        if not _is_loaded(source, attname):
            return generic(source, info, **kwargs)
        return GlobalID(type_name=info.parent_type.name, node_id=str(getattr(source, attname)))

    return resolve_id


def _model_field_resolver(graphql_field: GraphQLField, model: type[Model]) -> Resolver | None:
    field = graphql_field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if (not isinstance(field, StrawberryDjangoField) or field.base_resolver is not None
            or field.extensions or field.permission_classes):
        return None
    try:
        model_field = model._meta.get_field(field.django_name or field.python_name)
    except FieldDoesNotExist:
        return None
    if not model_field.concrete:
        return None
    generic = graphql_field.resolve
    if model_field.many_to_many:
        return _prefetched_list_resolver(model_field.name, generic)
    if graphql_field.args:
        return None
    if model_field.many_to_one or model_field.one_to_one:
        return _loaded_relation_resolver(model_field, generic)
    if isinstance(model_field, FileField):
        return None
    return _column_resolver(model_field.attname, generic)


def _is_loaded(source: Model, attname: str) -> bool:
    # A deferred column would be a query, which the generic resolver knows how to run (in
    # an async context too).
    return attname in getattr(source, "__dict__", ())


def _column_resolver(attname: str, generic: Resolver) -> Resolver:
    def resolve_column(source: Model, info, **kwargs) -> Any:
        if not _is_loaded(source, attname):
            return generic(source, info, **kwargs)
        return getattr(source, attname)

    return resolve_column


def _loaded_relation_resolver(model_field: Field, generic: Resolver) -> Resolver:
    def resolve_loaded_relation(source: Model, info, **kwargs) -> Any:
        if model_field.is_cached(source):
            return model_field.get_cached_value(source)
        return generic(source, info, **kwargs)

    return resolve_loaded_relation


def _prefetched_list_resolver(cache_name: str, generic: Resolver) -> Resolver:
    def resolve_prefetched_list(source: Model, info, **kwargs) -> Any:
        prefetched = getattr(source, "_prefetched_objects_cache", {}).get(cache_name)
        if (kwargs or not isinstance(prefetched, QuerySet) or prefetched._result_cache is None
                or not is_optimized_by_prefetching(prefetched)):
            return generic(source, info, **kwargs)
        return prefetched._result_cache

    return resolve_prefetched_list
