"""Writes of serving records. Environments are the tenant admins'; an inference service is
created, changed and deleted by whoever may change its model version's model."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from accounts.actor import Actor
from accounts.errors import CodedValidationError, CommonErrorCode, not_found, require_scope
from accounts.services import require_tenant_admin
from accounts.validators import validate_name
from audit import services as audit
from deployments import selectors
from deployments.errors import DeploymentErrorCode as Code
from deployments.models import DeploymentState, InferenceService, ServingEnvironment
from registry import services as registry_services
from registry.models import ModelVersion
from registry.validators import validate_choice
from webhooks import events as webhook_events

MAX_URL_LENGTH = 2000
MAX_LABELS = 64
MAX_LABEL_KEY_LENGTH = 63
MAX_LABEL_VALUE_LENGTH = 255
TEXT_LIMITS = {"description": 500, "runtime": 100}
_http_url = URLValidator(schemes=["http", "https"])
# What the audit trail diffs on each write.
ENVIRONMENT_FIELDS = ["name", "description"]
SERVICE_FIELDS = ["name", "environment", "model_version", "state", "runtime", "endpoint_url",
                  "labels"]


def endpoint_url_clean(url: str) -> str:
    url = url.strip()
    if not url:
        return url
    try:
        if len(url) > MAX_URL_LENGTH:
            raise ValidationError("too long")
        _http_url(url)
    except ValidationError:
        raise CodedValidationError(
            {"endpointUrl": "Use an absolute http(s) URL of at most 2000 characters."},
            code=Code.INVALID_ENDPOINT_URL) from None
    return url


def labels_clean(labels: Any) -> dict[str, str]:
    valid = (isinstance(labels, dict) and len(labels) <= MAX_LABELS
             and all(isinstance(key, str) and 0 < len(key) <= MAX_LABEL_KEY_LENGTH
                     and isinstance(value, str) and len(value) <= MAX_LABEL_VALUE_LENGTH
                     for key, value in labels.items()))
    if not valid:
        raise CodedValidationError({"labels": Code.INVALID_LABELS.label},
                                   code=Code.INVALID_LABELS)
    return labels


def text_clean(field: str, value: str) -> str:
    if len(value) > TEXT_LIMITS[field]:
        raise CodedValidationError({field: f"At most {TEXT_LIMITS[field]} characters."},
                                   code=Code.INVALID_TEXT)
    return value


def _duplicate_name(name: str, where: str) -> CodedValidationError:
    return CodedValidationError({"name": f"{name!r} already exists in this {where}."},
                                code=CommonErrorCode.DUPLICATE_NAME)


# --- Serving environments ------------------------------------------------------------------

def environment_for_admin(*, actor: Actor, environment_id: int) -> ServingEnvironment:
    """The actor's tenant's environment, locked, else NOT_FOUND (another tenant's included)."""
    require_tenant_admin(actor)
    environment = (ServingEnvironment.objects.select_for_update()
                   .filter(tenant=actor.tenant, pk=environment_id).first())
    if environment is None:
        raise not_found()
    return environment


def _environment_name_check(environment: ServingEnvironment) -> None:
    taken = (ServingEnvironment.objects.filter(tenant=environment.tenant, name=environment.name)
             .exclude(pk=environment.pk).exists())
    if taken:
        raise _duplicate_name(environment.name, "tenant")


@transaction.atomic
def environment_create(*, actor: Actor, name: str, description: str = ""
                       ) -> ServingEnvironment:
    require_tenant_admin(actor)
    environment = ServingEnvironment(tenant=actor.tenant, name=validate_name(name),
                                     description=text_clean("description", description),
                                     created_by=actor.user, updated_by=actor.user)
    _environment_name_check(environment)
    environment.save()
    audit.record(actor=actor, action="create", obj=environment, changes=audit.diff(
        {}, audit.snapshot(environment, ENVIRONMENT_FIELDS)))
    return environment


@transaction.atomic
def environment_update(*, actor: Actor, environment_id: int, name: str | None = None,
                       description: str | None = None) -> ServingEnvironment:
    environment = environment_for_admin(actor=actor, environment_id=environment_id)
    before = audit.snapshot(environment, ENVIRONMENT_FIELDS)
    if name is not None:
        environment.name = validate_name(name)
        _environment_name_check(environment)
    if description is not None:
        environment.description = text_clean("description", description)
    environment.updated_by = actor.user
    environment.save()
    audit.record(actor=actor, action="update", obj=environment, changes=audit.diff(
        before, audit.snapshot(environment, ENVIRONMENT_FIELDS)))
    return environment


@transaction.atomic
def environment_delete(*, actor: Actor, environment_id: int) -> None:
    """Refused while the environment holds services: each is someone's deployment record."""
    environment = environment_for_admin(actor=actor, environment_id=environment_id)
    if environment.inference_services.exists():
        raise CodedValidationError({"id": Code.ENVIRONMENT_NOT_EMPTY.label},
                                   code=Code.ENVIRONMENT_NOT_EMPTY)
    audit.record(actor=actor, action="delete", obj=environment)
    environment.delete()


# --- Inference services --------------------------------------------------------------------

def _version_for_change(actor: Actor, version_id: int, field: str = "modelVersionId"
                        ) -> ModelVersion:
    """The model version if the actor may change its model (locked), else NOT_FOUND."""
    version = registry_services.version_get(actor=actor, version_class=ModelVersion,
                                            version_id=version_id, field=field)
    registry_services.version_parent_for(actor=actor, version=version, field=field)
    return version


def _service_name_check(service: InferenceService) -> None:
    taken = (InferenceService.objects.filter(environment=service.environment,
                                             name=service.name)
             .exclude(pk=service.pk).exists())
    if taken:
        raise _duplicate_name(service.name, "serving environment")


@transaction.atomic
def inference_service_create(*, actor: Actor, environment_id: int, model_version_id: int,
                             name: str, state: str = DeploymentState.DEPLOYED,
                             runtime: str = "", endpoint_url: str = "",
                             labels: Any = None) -> InferenceService:
    require_scope(actor)
    model_version = _version_for_change(actor, model_version_id)
    environment = (selectors.environments_visible_to(actor).select_for_update()
                   .filter(pk=environment_id).first())
    if environment is None:
        raise not_found("environmentId")
    service = InferenceService(
        environment=environment, model_version=model_version,
        name=validate_name(name), state=validate_choice(state, DeploymentState, "state"),
        runtime=text_clean("runtime", runtime), endpoint_url=endpoint_url_clean(endpoint_url),
        labels=labels_clean({} if labels is None else labels),
        created_by=actor.user, updated_by=actor.user,
    )
    _service_name_check(service)
    service.save()
    audit.record(actor=actor, action="create", obj=service, changes=audit.diff(
        {}, audit.snapshot(service, SERVICE_FIELDS)))
    if service.state == DeploymentState.DEPLOYED:
        webhook_events.inference_service_state_changed(service)
    return service


def inference_service_for_change(*, actor: Actor, service_id: int) -> InferenceService:
    """The service if the actor may change its model version's model, else NOT_FOUND."""
    service = selectors.inference_services_visible_to(actor).filter(pk=service_id).first()
    if service is None:
        raise not_found()
    # The answer for a service that does not exist, whoever sees this one.
    _version_for_change(actor, service.model_version_id, field="id")
    # Locked after its model, as version_parent_for orders the locks.
    return InferenceService.objects.select_for_update().get(pk=service.pk)


@transaction.atomic
def inference_service_update(*, actor: Actor, service_id: int, name: str | None = None,
                             model_version_id: int | None = None, state: str | None = None,
                             runtime: str | None = None, endpoint_url: str | None = None,
                             labels: Any = None) -> InferenceService:
    """Change a service; pointing it at another version needs change on that one's model."""
    require_scope(actor)
    service = inference_service_for_change(actor=actor, service_id=service_id)
    served = (service.state, service.model_version_id)
    before = audit.snapshot(service, SERVICE_FIELDS)
    if model_version_id is not None:
        service.model_version = _version_for_change(actor, model_version_id)
    if name is not None:
        service.name = validate_name(name)
        _service_name_check(service)
    if state is not None:
        service.state = validate_choice(state, DeploymentState, "state")
    if runtime is not None:
        service.runtime = text_clean("runtime", runtime)
    if endpoint_url is not None:
        service.endpoint_url = endpoint_url_clean(endpoint_url)
    if labels is not None:
        service.labels = labels_clean(labels)
    service.updated_by = actor.user
    service.save()
    audit.record(actor=actor, action="update", obj=service, changes=audit.diff(
        before, audit.snapshot(service, SERVICE_FIELDS)))
    # A deployed service now serving another version is a deployment of that version.
    if (service.state, service.model_version_id) != served and not (
            service.state == served[0] == DeploymentState.UNDEPLOYED):
        webhook_events.inference_service_state_changed(service)
    return service


@transaction.atomic
def inference_service_delete(*, actor: Actor, service_id: int) -> None:
    require_scope(actor)
    service = inference_service_for_change(actor=actor, service_id=service_id)
    audit.record(actor=actor, action="delete", obj=service)
    service.delete()
