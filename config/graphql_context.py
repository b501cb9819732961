from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from strawberry.types import Info

from accounts.actor import Actor


@dataclass
class RegistryContext:
    request: HttpRequest
    response: HttpResponse
    actor: Actor


def actor_of(info: Info) -> Actor:
    return info.context.actor
