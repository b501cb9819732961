"""Serving environments (tenant admins) and inference services (those who may change the
model): decode ids, call one service."""

import strawberry
import strawberry_django
from strawberry import relay

from config.graphql_context import DeletionType, actor_of, decode_id
from deployments import services
from deployments.graphql import inputs
from deployments.graphql.types import InferenceServiceType, ServingEnvironmentType


def _value(enum_member):
    return None if enum_member is None else enum_member.value


@strawberry.type
class Mutation:
    @strawberry_django.mutation(handle_django_errors=True,
                                description="Tenant admins: a serving environment.")
    def create_serving_environment(self, info: strawberry.Info,
                                   data: inputs.CreateServingEnvironmentInput
                                   ) -> ServingEnvironmentType:
        return services.environment_create(actor=actor_of(info), name=data.name,
                                           description=data.description)

    @strawberry_django.mutation(handle_django_errors=True, description="Tenant admins.")
    def update_serving_environment(self, info: strawberry.Info,
                                   data: inputs.UpdateServingEnvironmentInput
                                   ) -> ServingEnvironmentType:
        return services.environment_update(
            actor=actor_of(info), environment_id=decode_id(data.id, "ServingEnvironment"),
            name=data.name, description=data.description)

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Tenant admins: an environment that holds no inference services.")
    def delete_serving_environment(self, info: strawberry.Info, id: relay.GlobalID
                                   ) -> DeletionType:
        services.environment_delete(actor=actor_of(info),
                                    environment_id=decode_id(id, "ServingEnvironment"))
        return DeletionType(deleted_id=id)

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="An inference service serving a model version (those who may change "
                    "the model).")
    def create_inference_service(self, info: strawberry.Info,
                                 data: inputs.CreateInferenceServiceInput
                                 ) -> InferenceServiceType:
        return services.inference_service_create(
            actor=actor_of(info),
            environment_id=decode_id(data.environment_id, "ServingEnvironment",
                                     field="environmentId"),
            model_version_id=decode_id(data.model_version_id, "ModelVersion",
                                       field="modelVersionId"),
            name=data.name, state=data.state.value, runtime=data.runtime,
            endpoint_url=data.endpoint_url, labels=data.labels)

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Change, deploy or undeploy an inference service (those who may change "
                    "its model).")
    def update_inference_service(self, info: strawberry.Info,
                                 data: inputs.UpdateInferenceServiceInput
                                 ) -> InferenceServiceType:
        return services.inference_service_update(
            actor=actor_of(info), service_id=decode_id(data.id, "InferenceService"),
            model_version_id=None if data.model_version_id is None else decode_id(
                data.model_version_id, "ModelVersion", field="modelVersionId"),
            name=data.name, state=_value(data.state), runtime=data.runtime,
            endpoint_url=data.endpoint_url, labels=data.labels)

    @strawberry_django.mutation(handle_django_errors=True,
                                description="Those who may change the service's model.")
    def delete_inference_service(self, info: strawberry.Info, id: relay.GlobalID
                                 ) -> DeletionType:
        services.inference_service_delete(actor=actor_of(info),
                                          service_id=decode_id(id, "InferenceService"))
        return DeletionType(deleted_id=id)
