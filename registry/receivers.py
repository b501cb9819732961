from accounts.models import Membership, Tenant
from registry.catalog import KINDS
from registry.models import ArtifactFile, Blob, Dataset, RegisteredModel
from registry.storage import blobs


def membership_deleted(sender, instance: Membership, **kwargs) -> None:
    """A user who leaves a tenant loses what was shared with them there, so adding them back
    later revives none of it (as with their tokens and groups)."""
    for kind in KINDS:
        kind.user_permissions.objects.filter(
            user_id=instance.user_id, content_object__tenant_id=instance.tenant_id
        ).delete()


def tenant_deleting_receiver(sender, tenant: Tenant, **kwargs) -> None:
    """accounts.signals.tenant_deleting: the tenant's catalog goes with it, and its stored
    files once the deletion is committed."""
    blob_ids = list(Blob.objects.filter(tenant=tenant).values_list("pk", flat=True))
    # Catalog entries first: their metadata protects the tenant's metadata names.
    RegisteredModel.objects.filter(tenant=tenant).delete()
    Dataset.objects.filter(tenant=tenant).delete()
    ArtifactFile.objects.filter(tenant=tenant).delete()
    blobs.blobs_release(blob_ids)
