"""`RestrictedNode`: the base of every Django-backed GraphQL type.

Each type declares who may see its rows, once, and the base applies it wherever
strawberry-django reads the type (lists, nested relations, `node(id)`):

- `restrict(queryset, actor)`: the rows the actor may see. The base's `get_queryset` applies
  it, so every queryset of the type is filtered;
- `restrict_lookup(queryset, actor)`: for rows shown wherever a visible object refers to them
  (a user as an object's owner, who may have left the tenant since): only `node(id)` and
  `nodes(ids)` look rows up by id, and they are filtered by it.

A subclass that declares neither, both, or a `get_queryset` of its own cannot be created, so a
new type cannot forget its restriction. Decorate it with `model_type` (strawberry-django's
`type` with `ModelField`), so that its plain columns resolve without per-field machinery.
"""

import functools
from collections.abc import Iterable
from typing import Any

import strawberry_django
from django.core.exceptions import FieldDoesNotExist
from django.db.models import FileField, Model, QuerySet
from strawberry import relay
from strawberry_django.fields.field import StrawberryDjangoField
from strawberry_django.fields.types import get_model_field
from strawberry_django.utils.typing import get_django_definition

from accounts.validators import is_database_id
from config.graphql_context import Info, actor_of

RESTRICTIONS = ("restrict", "restrict_lookup")


class RestrictedNode(relay.Node):
    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        declared = [name for name in RESTRICTIONS if hasattr(cls, name)]
        if "get_queryset" in vars(cls) or len(declared) != 1:
            raise TypeError(
                f"{cls.__name__} must declare exactly one of {', '.join(RESTRICTIONS)} "
                "and no get_queryset of its own: RestrictedNode applies it."
            )
        if declared == ["restrict"]:
            cls.get_queryset = classmethod(_restricted_queryset)
        else:
            cls.resolve_nodes = classmethod(_restricted_lookup)

    @classmethod
    def resolve_id_attr(cls) -> str:
        # Every node's id is its primary key; without this, strawberry searches the type's
        # annotations for a NodeID field each time it resolves an id.
        return "pk"


def _restricted_queryset(cls, queryset: QuerySet, info: Info, **kwargs) -> QuerySet:
    return cls.restrict(queryset, actor_of(info))


def _restricted_lookup(cls, *, info: Info, node_ids: Iterable[str],
                       required: bool = False) -> list[Model | None]:
    node_ids = [str(node_id) for node_id in node_ids]
    model = get_django_definition(cls, strict=True).model
    candidates = model.objects.filter(
        pk__in=[node_id for node_id in node_ids if is_database_id(node_id)]
    )
    by_id = {str(row.pk): row for row in cls.restrict_lookup(candidates, actor_of(info))}
    return [by_id.get(node_id) for node_id in node_ids]


class ModelField(StrawberryDjangoField):
    """A model type's field; a plain column of the row reads the loaded attribute.

    strawberry resolves a field it calls basic (no resolver, extension or permission) without
    building an Info object, parsing arguments or running the extension chain; strawberry-django
    calls none of its fields basic, as a relation must apply its target's `get_queryset`. A
    column of the row itself needs none of it, and is most fields of a page (about 1,300 of a
    page of 100 models)."""

    @property
    def is_basic_field(self) -> bool:
        if (self.base_resolver is not None or self.extensions or self.permission_classes
                or self.arguments or self.origin_django_type is None):
            return False
        try:
            model_field = get_model_field(self.origin_django_type.model, self.django_name)
        except FieldDoesNotExist:
            return False
        # A file column wraps its value (and reads "" as null) in strawberry-django's resolver.
        return (model_field.concrete and not model_field.is_relation
                and not isinstance(model_field, FileField))

    def get_result(self, source: Any, info: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
        # strawberry passes no Info to a basic field only; a deferred column takes the generic
        # path, which reads it in the right (sync or async) context.
        if info is None and self.django_name in vars(source):
            return vars(source)[self.django_name]
        return super().get_result(source, info, args, kwargs)


model_type = functools.partial(strawberry_django.type, field_cls=ModelField)
model_field = functools.partial(strawberry_django.field, field_cls=ModelField)
