"""New tenants take the operator's defaults from the environment at creation time."""

from accounts.models import Tenant


def test_new_tenant_takes_configured_policy_and_quotas(db, settings):
    settings.DEFAULT_SCAN_POLICY = "warn"
    settings.REGISTRY_DEFAULT_QUOTA_BYTES = 1234
    settings.REGISTRY_DEFAULT_QUOTA_FILES = 56

    tenant = Tenant.objects.create(slug="acme", organization="ACME")

    assert (tenant.scan_policy, tenant.quota_bytes, tenant.quota_files) == ("warn", 1234, 56)
