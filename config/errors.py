from accounts.errors import AccountErrorCode, CommonErrorCode
from cleanup.errors import CleanupErrorCode
from config.graphql_limits import ApiErrorCode
from deployments.errors import DeploymentErrorCode
from registry.errors import RegistryErrorCode
from scanning.errors import ScanningErrorCode
from webhooks.errors import WebhookErrorCode

# Each domain keeps its own code enum; this is the catalogue `errorCodes` serves.
ERROR_CODE_ENUMS = [ApiErrorCode, CommonErrorCode, AccountErrorCode, RegistryErrorCode,
                    ScanningErrorCode, WebhookErrorCode, DeploymentErrorCode,
                    CleanupErrorCode]


def all_error_codes() -> list[tuple[str, str]]:
    return sorted((code.value, code.label) for enum in ERROR_CODE_ENUMS for code in enum)
