"""Direct resolvers read only what is loaded, and trust only rows the optimizer loaded
through the type's get_queryset; anything else takes the generic resolver."""

from strawberry_django.queryset import get_queryset_config

from config.direct_resolvers import _column_resolver, _prefetched_list_resolver
from registry.models import RegisteredModel, Tag


def generic(source, info, **kwargs):
    return "generic"


def test_prefetched_list_is_read_only_when_the_optimizer_made_it(maintainer, default_tenant):
    model = RegisteredModel.objects.create(tenant=default_tenant, owner=maintainer, name="m")
    model.tags.add(Tag.objects.create(tenant=default_tenant, name="t"))
    resolve_tags = _prefetched_list_resolver("tags", generic)

    assert resolve_tags(RegisteredModel.objects.get(pk=model.pk), None) == "generic"
    # A prefetch of unknown origin may not have been restricted: the generic resolver runs
    # the type's get_queryset.
    prefetched = RegisteredModel.objects.prefetch_related("tags").get(pk=model.pk)
    assert resolve_tags(prefetched, None) == "generic"

    get_queryset_config(prefetched.tags.all()).optimized_by_prefetching = True
    assert [tag.name for tag in resolve_tags(prefetched, None)] == ["t"]
    assert resolve_tags(prefetched, None, filters={"name": "x"}) == "generic"


def test_a_deferred_column_takes_the_generic_resolver(maintainer, default_tenant):
    model = RegisteredModel.objects.create(tenant=default_tenant, owner=maintainer, name="m")
    resolve_name = _column_resolver("name", generic)

    assert resolve_name(RegisteredModel.objects.get(pk=model.pk), None) == "m"
    assert resolve_name(RegisteredModel.objects.only("pk").get(pk=model.pk), None) == "generic"
