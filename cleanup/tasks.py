"""The periodic cleanup jobs: thin tasks, each calling one service. Routed to the
`maintenance` queue; scheduled in config/celery_schedule.py."""

from celery import shared_task

from cleanup import services
from registry.tasks import SOFT_TIME_LIMIT, TIME_LIMIT


@shared_task(soft_time_limit=SOFT_TIME_LIMIT, time_limit=TIME_LIMIT)
def propose_cleanup_task() -> dict[str, int]:
    """A proposal for every tenant whose retention policy is enabled."""
    proposals = services.proposals_propose()
    return {"proposals": len(proposals),
            "items": sum(proposal.item_count for proposal in proposals)}


@shared_task(acks_late=True, soft_time_limit=SOFT_TIME_LIMIT, time_limit=TIME_LIMIT)
def purge_cleanup_task() -> dict[str, int]:
    """Approved items past their restore window, then the rest of the trash that is due.
    Acknowledged late: a worker killed midway leaves the message for the next one, and the
    purge resumes where it stopped."""
    result = services.proposals_purge()
    return {"versions": result.versions, "files": result.files,
            "bytes_reclaimed": result.bytes_reclaimed}
