"""`shareObject` / `unshareObject`: grant and withdraw access to a model or a dataset.

Only those who manage the object (its owner, tenant admins, holders of `MANAGE`) may share;
for anyone else, and for users or groups outside the tenant, the answer is `not_found` and
nothing changes.
"""

from typing import Annotated

import strawberry
import strawberry_django
from strawberry import relay

from accounts.graphql.types import TenantGroupType, UserType
from config.graphql_context import actor_of, decode_id
from registry import catalog, models, selectors, services
from registry.graphql.types import DatasetType, RegisteredModelType

PermissionLevelEnum = strawberry.enum(models.AccessLevel, name="PermissionLevel")


@strawberry.type(name="PermissionGrant", description="A user or group and the level it holds.")
class PermissionGrantType:
    permission: PermissionLevelEnum
    user: UserType | None
    group: TenantGroupType | None


@strawberry.type(name="Sharing")
class SharingType:
    object: Annotated[RegisteredModelType | DatasetType, strawberry.union("SharedObject")]
    grants: list[PermissionGrantType] = strawberry.field(
        description="Everyone the object is shared with, after this change."
    )


def _sharing(info: strawberry.Info, service, id: relay.GlobalID, users: list[relay.GlobalID],
             groups: list[relay.GlobalID], permission) -> SharingType:
    entry_id = decode_id(id, *catalog.BY_ENTRY_TYPE_NAME)
    entry = service(
        entry_class=catalog.BY_ENTRY_TYPE_NAME[id.type_name].entry_class,
        actor=actor_of(info),
        entry_id=entry_id,
        level=permission.value,
        user_ids=[decode_id(user, "User", field="users") for user in users],
        group_ids=[decode_id(group, "TenantGroup", field="groups") for group in groups],
    )
    return SharingType(
        object=entry,
        grants=[PermissionGrantType(permission=PermissionLevelEnum(grant.level),
                                    user=grant.user, group=grant.group)
                for grant in selectors.catalog_entry_grants(entry)],
    )


@strawberry.type
class Mutation:
    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Grant a permission level (with the levels below it) on a model or "
                    "dataset to users and groups of its tenant.",
    )
    def share_object(
        self, info: strawberry.Info, id: relay.GlobalID,
        users: list[relay.GlobalID] | None = None, groups: list[relay.GlobalID] | None = None,
        permission: PermissionLevelEnum = PermissionLevelEnum.VIEW,
    ) -> SharingType:
        return _sharing(info, services.catalog_entry_share, id, users or [], groups or [],
                        permission)

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Withdraw a permission level and the levels above it; withdrawing VIEW "
                    "withdraws all access.",
    )
    def unshare_object(
        self, info: strawberry.Info, id: relay.GlobalID,
        users: list[relay.GlobalID] | None = None, groups: list[relay.GlobalID] | None = None,
        permission: PermissionLevelEnum = PermissionLevelEnum.VIEW,
    ) -> SharingType:
        return _sharing(info, services.catalog_entry_unshare, id, users or [], groups or [],
                        permission)
