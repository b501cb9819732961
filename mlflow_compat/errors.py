"""MLflow's error shape: `{"error_code": ..., "message": ...}` with the HTTP status MLflow
gives each code (mlflow.exceptions.ERROR_CODE_TO_HTTP_STATUS), and how our coded errors map
onto them."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse

from accounts.errors import CommonErrorCode
from registry.errors import RegistryErrorCode

RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
PERMISSION_DENIED = "PERMISSION_DENIED"
UNAUTHENTICATED = "UNAUTHENTICATED"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"

HTTP_STATUS = {
    RESOURCE_DOES_NOT_EXIST: 404,
    ENDPOINT_NOT_FOUND: 404,
    RESOURCE_ALREADY_EXISTS: 400,
    INVALID_PARAMETER_VALUE: 400,
    PERMISSION_DENIED: 403,
    UNAUTHENTICATED: 401,
}

# Our codes that are not "bad parameter": everything else a service refuses is.
CODE_MAP = {
    CommonErrorCode.NOT_FOUND: RESOURCE_DOES_NOT_EXIST,
    CommonErrorCode.DUPLICATE_NAME: RESOURCE_ALREADY_EXISTS,
    RegistryErrorCode.DUPLICATE_VERSION: RESOURCE_ALREADY_EXISTS,
    RegistryErrorCode.DUPLICATE_PATH: RESOURCE_ALREADY_EXISTS,
}


class MlflowError(Exception):
    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


def does_not_exist(message: str) -> MlflowError:
    return MlflowError(RESOURCE_DOES_NOT_EXIST, message)


def invalid_parameter(message: str) -> MlflowError:
    return MlflowError(INVALID_PARAMETER_VALUE, message)


def from_validation_error(error: ValidationError) -> MlflowError:
    """The first coded message of a service's refusal, as MLflow would word its kind."""
    if hasattr(error, "error_dict"):
        field, [first, *_] = next(iter(error.error_dict.items()))
        text = f"{field}: {' '.join(first.messages)}"
    else:
        first = error.error_list[0]
        text = " ".join(first.messages)
    return MlflowError(CODE_MAP.get(first.code, INVALID_PARAMETER_VALUE), text)


def from_permission_denied(error: PermissionDenied) -> MlflowError:
    return MlflowError(PERMISSION_DENIED, str(error) or "Permission denied.")


def error_response(error: MlflowError) -> JsonResponse:
    response = JsonResponse({"error_code": error.error_code, "message": error.message},
                            status=HTTP_STATUS[error.error_code])
    if error.error_code == UNAUTHENTICATED:
        response["WWW-Authenticate"] = 'Bearer realm="mlflow"'
    return response
