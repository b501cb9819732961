from django.db import models


class DeploymentErrorCode(models.TextChoices):
    """Codes of serving environments and inference services; not-found, permission and
    duplicate-name codes are the common ones."""

    INVALID_ENDPOINT_URL = (
        "invalid_endpoint_url", "An endpoint URL is an absolute http(s) URL of at most 2000 "
                                "characters.",
    )
    INVALID_LABELS = (
        "invalid_labels", "Labels are a JSON object of at most 64 string keys (1-63 characters) "
                          "to string values (at most 255 characters).",
    )
    INVALID_TEXT = "invalid_text", "A description or runtime is too long."
    ENVIRONMENT_NOT_EMPTY = (
        "environment_not_empty", "The serving environment holds inference services; delete "
                                 "them first.",
    )
    VERSION_DEPLOYED = (
        "version_deployed", "A DEPLOYED inference service serves the version; undeploy it "
                            "before deleting the version or its model.",
    )
