from django.dispatch import Signal

# Sent inside the deleting transaction with `tenant=<Tenant>`, before the tenant row goes:
# the apps built on accounts delete what they keep of the tenant.
tenant_deleting = Signal()
