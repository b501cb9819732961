from accounts.errors import AccountErrorCode
from config.graphql_limits import ApiErrorCode
from registry.errors import RegistryErrorCode
from scanning.errors import ScanningErrorCode

# Each domain keeps its own code enum; this is the catalogue `errorCodes` serves.
ERROR_CODE_ENUMS = [ApiErrorCode, AccountErrorCode, RegistryErrorCode, ScanningErrorCode]


def all_error_codes() -> list[tuple[str, str]]:
    return sorted((code.value, code.label) for enum in ERROR_CODE_ENUMS for code in enum)
