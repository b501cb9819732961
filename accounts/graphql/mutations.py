"""Logins, API tokens, tenants, memberships and groups: decode ids, call one service."""

import strawberry
import strawberry_django
from strawberry import relay

from accounts import services
from accounts.authentication import bearer_token
from accounts.graphql import inputs
from accounts.graphql.enums import RoleEnum
from accounts.graphql.types import (
    LogoutType,
    MembershipType,
    NewApiTokenType,
    TenantGroupType,
    TenantType,
    TokenPairType,
)
from config.graphql_context import DeletionType, actor_of, decode_id


def _token_pair(issued: services.IssuedTokens) -> TokenPairType:
    return TokenPairType(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_at=issued.session.access_expires_at,
        refresh_expires_at=issued.session.refresh_expires_at,
        tenant_slug=issued.session.tenant.slug,
    )


@strawberry.type
class Mutation:
    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Tokens for a user in a tenant (the default tenant when omitted).",
    )
    def login(self, info: strawberry.Info, username: str, password: str,
              tenant: str | None = None) -> TokenPairType:
        return _token_pair(services.login(
            username=username, password=password, tenant_slug=tenant,
            client_address=info.context.request.META.get("REMOTE_ADDR", ""),
        ))

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="A new token pair; the refresh token given stops working.",
    )
    def refresh_token(self, info: strawberry.Info, refresh_token: str) -> TokenPairType:
        return _token_pair(services.token_refresh(refresh_token=refresh_token))

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Revoke a login: the refresh token given, else the bearer access token.",
    )
    def logout(self, info: strawberry.Info, refresh_token: str | None = None) -> LogoutType:
        token = refresh_token or bearer_token(info.context.request) or ""
        return LogoutType(revoked=services.logout(token=token))

    @strawberry_django.mutation(handle_django_errors=True,
                                description="A new API token; its secret is shown only here.")
    def create_api_token(self, info: strawberry.Info, data: inputs.CreateApiTokenInput
                         ) -> NewApiTokenType:
        api_token, secret = services.api_token_create(
            actor=actor_of(info), name=data.name,
            scopes=[scope.value for scope in data.scopes], expires_at=data.expires_at,
        )
        return NewApiTokenType(token=secret, api_token=api_token)

    @strawberry_django.mutation(handle_django_errors=True)
    def revoke_api_token(self, info: strawberry.Info, id: relay.GlobalID) -> DeletionType:
        services.api_token_revoke(actor=actor_of(info), token_id=decode_id(id, "ApiToken"))
        return DeletionType(deleted_id=id)

    @strawberry_django.mutation(handle_django_errors=True, description="Superuser only.")
    def create_tenant(self, info: strawberry.Info, data: inputs.CreateTenantInput
                      ) -> TenantType:
        services.require_superuser(actor_of(info))
        return services.tenant_create(
            slug=data.slug, organization=data.organization, address=data.address,
            email=data.email, phone=data.phone, admin_username=data.admin_username,
            admin_password=data.admin_password,
        )

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Superuser only: delete a tenant, all its data and its stored files. "
                    "`confirmSlug` must repeat the tenant's slug.",
    )
    def delete_tenant(self, info: strawberry.Info, id: relay.GlobalID, confirm_slug: str
                      ) -> DeletionType:
        services.require_superuser(actor_of(info))
        services.tenant_delete(tenant_id=decode_id(id, "Tenant"), confirm_slug=confirm_slug)
        return DeletionType(deleted_id=id)

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="The tenant's admins (quotas: the superuser): scan policy, anonymous "
                    "read, trash and quotas.",
    )
    def update_tenant(self, info: strawberry.Info, data: inputs.UpdateTenantInput
                      ) -> TenantType:
        return services.tenant_settings_update(
            actor=actor_of(info), tenant_id=decode_id(data.id, "Tenant"),
            scan_policy=data.scan_policy, allow_anonymous_read=data.allow_anonymous_read,
            quota_bytes=data.quota_bytes, quota_files=data.quota_files,
            trash_enabled=data.trash_enabled, trash_restore_days=data.trash_restore_days,
        )

    @strawberry_django.mutation(handle_django_errors=True, description="Tenant admins.")
    def add_member(self, info: strawberry.Info, data: inputs.AddMemberInput) -> MembershipType:
        return services.member_add(actor=actor_of(info), username=data.username,
                                   role=data.role.value, password=data.password)

    @strawberry_django.mutation(handle_django_errors=True, description="Tenant admins.")
    def set_member_role(self, info: strawberry.Info, user_id: relay.GlobalID, role: RoleEnum
                        ) -> MembershipType:
        return services.member_role_set(
            actor=actor_of(info), user_id=decode_id(user_id, "User", field="userId"),
            role=role.value,
        )

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Tenant admins: remove a member, their tokens and group memberships here.",
    )
    def remove_member(self, info: strawberry.Info, user_id: relay.GlobalID) -> DeletionType:
        services.member_remove(actor=actor_of(info),
                               user_id=decode_id(user_id, "User", field="userId"))
        return DeletionType(deleted_id=user_id)

    @strawberry_django.mutation(handle_django_errors=True, description="Tenant admins.")
    def create_group(self, info: strawberry.Info, name: str) -> TenantGroupType:
        return services.group_create(actor=actor_of(info), name=name)

    @strawberry_django.mutation(handle_django_errors=True, description="Tenant admins.")
    def delete_group(self, info: strawberry.Info, id: relay.GlobalID) -> DeletionType:
        services.group_delete(actor=actor_of(info), group_id=decode_id(id, "TenantGroup"))
        return DeletionType(deleted_id=id)

    @strawberry_django.mutation(handle_django_errors=True, description="Tenant admins.")
    def add_group_member(self, info: strawberry.Info, group_id: relay.GlobalID,
                         user_id: relay.GlobalID) -> TenantGroupType:
        return services.group_member_add(
            actor=actor_of(info),
            group_id=decode_id(group_id, "TenantGroup", field="groupId"),
            user_id=decode_id(user_id, "User", field="userId"),
        )

    @strawberry_django.mutation(handle_django_errors=True, description="Tenant admins.")
    def remove_group_member(self, info: strawberry.Info, group_id: relay.GlobalID,
                            user_id: relay.GlobalID) -> TenantGroupType:
        return services.group_member_remove(
            actor=actor_of(info),
            group_id=decode_id(group_id, "TenantGroup", field="groupId"),
            user_id=decode_id(user_id, "User", field="userId"),
        )

