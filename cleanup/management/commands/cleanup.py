from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from accounts.models import Tenant
from cleanup import selectors, services
from cleanup.models import CleanupProposal


class Command(BaseCommand):
    help = ("Cleanup of dormant versions. `propose` writes a proposal for every tenant whose "
            "retention policy is enabled (or for --tenant); --dry-run prints it without "
            "writing. `purge` purges approved items past their restore window.")

    def add_arguments(self, parser) -> None:
        commands = parser.add_subparsers(dest="command", required=True)
        propose = commands.add_parser("propose", help="Compute and write proposals.")
        propose.add_argument("--tenant", help="Only this tenant (its slug).")
        propose.add_argument("--dry-run", action="store_true",
                             help="Print the proposal without writing anything.")
        purge = commands.add_parser("purge", help="Purge what is due.")
        purge.add_argument("--tenant", help="Only this tenant (its slug).")

    def handle(self, *args, command: str, tenant: str | None = None, dry_run: bool = False,
               **options) -> None:
        selected = None
        if tenant is not None:
            selected = Tenant.objects.filter(slug=tenant).first()
            if selected is None:
                raise CommandError(f"No tenant {tenant!r}.")
        if command == "purge":
            result = services.proposals_purge(tenant=selected)
            self.stdout.write(f"Purged {result.versions} version(s), {result.files} file(s); "
                              f"reclaimed {filesizeformat(result.bytes_reclaimed)} "
                              f"({result.bytes_reclaimed} bytes).")
            return
        if dry_run:
            self._dry_run(selected)
            return
        proposals = services.proposals_propose(tenant=selected)
        for proposal in proposals:
            self._print(proposal, "Wrote")
        if not proposals:
            self.stdout.write("Nothing to propose.")

    def _dry_run(self, tenant: Tenant | None) -> None:
        printed = False
        for policy in selectors.enabled_policies(tenant):
            with services.proposal_dry_run(tenant=policy.tenant, policy=policy) as proposal:
                if proposal.item_count:
                    self._print(proposal, "Would write")
                    printed = True
        if not printed:
            self.stdout.write("Nothing to propose.")

    def _print(self, proposal: CleanupProposal, verb: str) -> None:
        self.stdout.write(
            f"{verb} a proposal for {proposal.tenant.slug}: {proposal.item_count} version(s), "
            f"{filesizeformat(proposal.size)} ({proposal.size} bytes), reclaiming "
            f"{filesizeformat(proposal.reclaimable_bytes)} ({proposal.reclaimable_bytes} "
            "bytes).")
        for item in proposal.items.order_by("label", "pk").iterator(chunk_size=2000):
            self.stdout.write(f"  {item.label}: {item.reason}; {item.size} bytes, "
                              f"{item.reclaimable_bytes} reclaimable")
