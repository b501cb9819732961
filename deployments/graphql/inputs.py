import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from deployments.graphql.enums import DeploymentStateEnum

LABELS = "A JSON object of string keys (1-63 characters) to string values; at most 64."


@strawberry.input
class CreateServingEnvironmentInput:
    name: str
    description: str = ""


@strawberry.input
class UpdateServingEnvironmentInput:
    id: relay.GlobalID
    name: str | None = None
    description: str | None = None


@strawberry.input
class CreateInferenceServiceInput:
    environment_id: relay.GlobalID
    model_version_id: relay.GlobalID
    name: str
    state: DeploymentStateEnum = DeploymentStateEnum.DEPLOYED
    runtime: str = ""
    endpoint_url: str = strawberry.field(default="", description="An http(s) URL, or empty.")
    labels: JSON | None = strawberry.field(default=None, description=LABELS)


@strawberry.input
class UpdateInferenceServiceInput:
    id: relay.GlobalID
    model_version_id: relay.GlobalID | None = strawberry.field(
        default=None, description="Point the service at another version (of a model you may "
                                  "change).")
    name: str | None = None
    state: DeploymentStateEnum | None = None
    runtime: str | None = None
    endpoint_url: str | None = None
    labels: JSON | None = strawberry.field(default=None, description=LABELS)
