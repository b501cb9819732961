"""What a server process does once it has loaded the application."""

import gc


def freeze_startup_objects() -> None:
    """Build the GraphQL schema now and move what startup created out of the garbage
    collector's reach: otherwise every full collection walks those ~150,000 long-lived
    objects, and the slowest GraphQL pages paid for it (100+ ms; bench/permissions.py)."""
    import config.schema  # noqa: F401 - built here rather than in the first request

    gc.collect()
    gc.freeze()
