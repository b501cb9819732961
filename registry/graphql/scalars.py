from typing import NewType

import strawberry

# GraphQL's Int is 32-bit; file sizes are not.
BigInt = strawberry.scalar(
    NewType("BigInt", int),
    name="BigInt",
    description="An integer up to 2^53, for byte counts.",
    serialize=int,
    parse_value=int,
)
