import strawberry

from deployments import models

DeploymentStateEnum = strawberry.enum(models.DeploymentState, name="DeploymentState")
