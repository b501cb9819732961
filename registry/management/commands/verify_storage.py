from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Tenant
from registry.storage import blobs


class Command(BaseCommand):
    help = ("Re-hash stored blobs and flag missing or altered ones (Blob.integrity_error); "
            "report stored objects that no blob or active upload accounts for.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", help="Only this tenant's blobs (slug).")
        parser.add_argument("--limit", type=int,
                            help="Only this many blobs, least recently verified first.")
        parser.add_argument("--delete-orphans", action="store_true",
                            help="Delete the orphaned objects found.")
        parser.add_argument(
            "--orphan-min-age", type=int,
            default=int(blobs.ORPHAN_MIN_AGE.total_seconds()),
            help="Seconds since an object was written before it may count as orphaned "
                 "(younger ones may belong to an upload in progress).",
        )

    def handle(self, *args, tenant=None, limit=None, delete_orphans=False,
               orphan_min_age=0, **options) -> None:
        tenant_object = None
        if tenant:
            tenant_object = Tenant.objects.filter(slug=tenant).first()
            if tenant_object is None:
                raise CommandError(f"No tenant {tenant!r}.")
        report = blobs.blobs_verify(limit=limit, tenant=tenant_object)
        for blob in report.missing + report.mismatched:
            self.stdout.write(f"BAD     blob {blob.pk} {blob.storage_key}: "
                              f"{blob.integrity_error}")
        min_age = timedelta(seconds=orphan_min_age)
        orphans = (blobs.orphans_delete(min_age=min_age, tenant=tenant_object)
                   if delete_orphans
                   else list(blobs.orphans(min_age=min_age, tenant=tenant_object)))
        for key in orphans:
            self.stdout.write(f"{'DELETED' if delete_orphans else 'ORPHAN '} {key}")
        bad = len(report.missing) + len(report.mismatched)
        self.stdout.write(
            f"{report.verified} blobs verified: {report.verified - bad} intact, "
            f"{len(report.missing)} missing, {len(report.mismatched)} altered; "
            f"{len(orphans)} orphaned objects{' deleted' if delete_orphans else ''}."
        )
        if bad:
            raise CommandError(f"{bad} blobs failed verification.")
