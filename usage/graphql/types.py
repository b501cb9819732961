"""`usage(from, to)` on the registry's file, version and entry types: resolved only when
asked for, so the list queries pay nothing for it."""

from datetime import date, datetime
from typing import Annotated

import strawberry
import strawberry_django

from usage import selectors


@strawberry.type(name="UsageDay")
class UsageDayType:
    day: date
    pulls: int
    pushes: int
    pullers: int = strawberry.field(description="Distinct users and tokens that pulled.")


@strawberry.type(name="Usage")
class UsageType:
    from_: date = strawberry.field(name="from")
    to: date
    days: list[UsageDayType] = strawberry.field(
        description="Days with pulls or pushes, oldest first.")
    pulls: int = strawberry.field(description="Pulls over the days.")
    pushes: int = strawberry.field(description="Completed uploads over the days.")
    last_pulled_at: datetime | None = strawberry.field(description="The last pull ever.")


def usage_field():
    @strawberry_django.field(description="Pulls and pushes per day, `from` and `to` included "
                                         f"(default: the last {selectors.DEFAULT_DAYS} days).")
    def usage(root, from_: Annotated[date | None, strawberry.argument(name="from")] = None,
              to: date | None = None) -> UsageType:
        found = selectors.usage_of(root, start=from_, end=to)
        return UsageType(from_=found.start, to=found.end, pulls=found.pulls,
                         pushes=found.pushes, last_pulled_at=found.last_pulled_at,
                         days=[UsageDayType(**vars(day)) for day in found.days])

    return usage
