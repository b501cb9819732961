from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import Membership, Tenant, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(User)
class RegistryUserAdmin(UserAdmin):
    list_display = ["username", "email", "is_active", "is_superuser", "last_login"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "organization", "is_default", "scan_policy", "created_at"]
    search_fields = ["slug", "organization", "email"]
    list_filter = ["scan_policy", "is_default"]
    readonly_fields = ["is_default", "created_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]
