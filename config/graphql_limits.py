"""What one GraphQL document may cost, checked before anything runs.

strawberry's limiters bound depth, aliases and tokens; `QueryCostRule` bounds how many fields a
document can make the server resolve, counting each field under a connection or list once per
row it may return. Every refusal carries an `ApiErrorCode` in its `extensions`, added to
strawberry's messages by `limit_error_code`, so clients can tell a limit from a mistake.
"""

import re
from collections.abc import Callable, Iterator
from functools import partial

from django.conf import settings
from django.db import models
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    get_named_type,
    get_nullable_type,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)


class ApiErrorCode(models.TextChoices):
    """Codes of refused documents and requests, before any resolver runs."""

    DOCUMENT_TOO_LARGE = "document_too_large", "The GraphQL document is longer than allowed."
    TOO_MANY_TOKENS = "too_many_tokens", "The GraphQL document has more tokens than allowed."
    QUERY_TOO_DEEP = "query_too_deep", "The query nests fields deeper than allowed."
    TOO_MANY_ALIASES = "too_many_aliases", "The query uses more aliases than allowed."
    QUERY_TOO_COSTLY = "query_too_costly", (
        "The query could resolve more fields than allowed; ask for fewer fields or smaller pages."
    )
    INTROSPECTION_DISABLED = "introspection_disabled", (
        "Introspection is only for authenticated callers on this server."
    )
    INVALID_REQUEST = "invalid_request", (
        "The request body is not UTF-8 JSON, or nests deeper than allowed."
    )
    REQUEST_TOO_LARGE = "request_too_large", "The request body is larger than allowed."
    INVALID_PATTERN = "invalid_pattern", (
        "The regular expression is invalid, too long, or uses constructs RE2 does not run "
        "(backreferences, lookarounds)."
    )
    PATTERN_TIMEOUT = "pattern_timeout", "The regular expression took too long to match."


# strawberry's limiters report plain messages; these are their stable beginnings and ends.
_LIMIT_MESSAGES = [
    (re.compile(r"Document contains more than \d+ tokens"), ApiErrorCode.TOO_MANY_TOKENS),
    (re.compile(r"exceeds maximum operation depth of \d+"), ApiErrorCode.QUERY_TOO_DEEP),
    (re.compile(r"^\d+ aliases found\. Allowed: \d+"), ApiErrorCode.TOO_MANY_ALIASES),
    (re.compile(r"introspection has been disabled"),
     ApiErrorCode.INTROSPECTION_DISABLED),
]
_SUGGESTION = re.compile(r"\s*Did you mean .*\?$")


def limit_error_code(message: str) -> ApiErrorCode | None:
    for pattern, code in _LIMIT_MESSAGES:
        if pattern.search(message):
            return code
    return None


def without_suggestions(message: str) -> str:
    """The message without graphql-core's "Did you mean …?", which would list schema names."""
    return _SUGGESTION.sub("", message)


# A plain list (tags, files, reports) has no page size: this is what one is assumed to hold.
ASSUMED_LIST_LENGTH = 10


def _row_multiplier(field: FieldNode, field_type: GraphQLOutputType,
                    parent: GraphQLNamedType) -> int:
    """How many rows a field may return: `first` (capped) or the largest page for a
    connection (whose `edges` its page already counts), ASSUMED_LIST_LENGTH for a list, else
    one."""
    if parent.name.endswith("Connection"):
        return 1
    if isinstance(get_nullable_type(field_type), GraphQLList):
        return ASSUMED_LIST_LENGTH
    if not get_named_type(field_type).name.endswith("Connection"):
        return 1
    page = settings.GRAPHQL_MAX_PAGE_SIZE
    for argument in field.arguments or ():
        if argument.name.value == "first" and isinstance(argument.value, IntValueNode):
            return max(1, min(int(argument.value.value), page))
    return page  # no `first`, or a variable: the largest page it could be


class QueryCostRule(ValidationRule):
    """Refuses an operation whose worst-case number of resolved fields exceeds
    GRAPHQL_MAX_QUERY_COST. Fragments are costed once and multiplied where they are spread."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args) -> None:
        schema = self.context.schema
        root = schema.get_root_type(node.operation)
        if root is None:
            return
        fragments = {definition.name.value: definition
                     for definition in self.context.document.definitions
                     if isinstance(definition, FragmentDefinitionNode)}
        cost = _selection_cost(node.selection_set, root, schema, fragments, {}, set())
        if cost > settings.GRAPHQL_MAX_QUERY_COST:
            self.report_error(GraphQLError(
                f"The query could resolve {cost} fields; at most "
                f"{settings.GRAPHQL_MAX_QUERY_COST} are allowed.", node,
                extensions={"code": ApiErrorCode.QUERY_TOO_COSTLY.value},
            ))


def _selection_cost(selection_set: SelectionSetNode | None, parent: GraphQLNamedType,
                    schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                    costed: dict[str, int], visiting: set[str]) -> int:
    if selection_set is None:
        return 0
    cost = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            field = (parent.fields.get(selection.name.value)
                     if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else None)
            if field is None:  # __typename, introspection, or unknown (another rule's error)
                cost += 1
                continue
            cost += 1 + _row_multiplier(selection, field.type, parent) * _selection_cost(
                selection.selection_set, get_named_type(field.type), schema, fragments,
                costed, visiting)
        elif isinstance(selection, InlineFragmentNode):
            condition = (schema.get_type(selection.type_condition.name.value)
                         if selection.type_condition else parent)
            cost += _selection_cost(selection.selection_set, condition or parent, schema,
                                    fragments, costed, visiting)
        elif isinstance(selection, FragmentSpreadNode):
            cost += _fragment_cost(selection.name.value, schema, fragments, costed, visiting)
    return cost


def _fragment_cost(name: str, schema: GraphQLSchema,
                   fragments: dict[str, FragmentDefinitionNode], costed: dict[str, int],
                   visiting: set[str]) -> int:
    fragment = fragments.get(name)
    if fragment is None or name in visiting:  # unknown or cyclic: other rules refuse those
        return 0
    if name not in costed:
        visiting.add(name)
        condition = schema.get_type(fragment.type_condition.name.value)
        costed[name] = (_selection_cost(fragment.selection_set, condition, schema, fragments,
                                        costed, visiting) if condition is not None else 0)
        visiting.discard(name)
    return costed[name]


class AnonymousIntrospectionGuard(SchemaExtension):
    """Introspection only for authenticated callers, unless GRAPHQL_ANONYMOUS_INTROSPECTION."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if (not settings.GRAPHQL_ANONYMOUS_INTROSPECTION and context is not None
                and context.actor.user is None):
            self.execution_context.validation_rules = (
                *self.execution_context.validation_rules, NoSchemaIntrospectionCustomRule)
        yield


def limit_extensions() -> list[Callable[[], SchemaExtension]]:
    """Factories of the schema's extensions that bound a document's cost, from the settings.

    The rules are built once: ValidationCache keys its results by the rule classes, and the
    limiters would build new classes for every request."""
    rules = [
        *QueryDepthLimiter(max_depth=settings.GRAPHQL_MAX_DEPTH).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.GRAPHQL_MAX_ALIASES).validation_rules,
        QueryCostRule,
    ]
    return [
        partial(MaxTokensLimiter, max_token_count=settings.GRAPHQL_MAX_TOKENS),
        partial(AddValidationRules, rules),
        AnonymousIntrospectionGuard,
    ]
