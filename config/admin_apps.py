from django.contrib.admin.apps import AdminConfig


class RegistryAdminConfig(AdminConfig):
    """Django's admin with the registry's site (a dashboard as its index)."""

    default_site = "config.admin_site.RegistryAdminSite"
