"""Log lines that say which request, task, tenant, user and token they belong to.

Every line, ours or a library's (Django, Celery, gunicorn through stdlib logging), goes through
one structlog formatter: the context bound for the request or task is merged in, credentials
are masked, and the line is rendered as JSON (or as readable console lines in development).
django-structlog binds the request id for each request and carries the bound context into the
Celery tasks the request queues.
"""

import re

import structlog

# What a line may carry that grants access: the secret part of a bearer token (its kind and
# lookup stay, they name the token without granting anything), the signed capability in an
# upload-part URL, and the credentials of a presigned S3 URL.
SECRETS = (
    (re.compile(r"\b(rg[akr]_[0-9a-f]{16})_[A-Za-z0-9_-]+"), r"\1_[redacted]"),
    (re.compile(r"(/uploads/parts/)[^\s/?#\"']+"), r"\1[redacted]"),
    (re.compile(r"\b(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s\"']+"),
     r"\1[redacted]"),
)


def mask_secrets(text: str) -> str:
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


def redact_secrets(logger, method_name: str, event_dict: dict) -> dict:
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = mask_secrets(value)
    return event_dict


# Applied to lines of stdlib loggers before the formatter's own processors.
FOREIGN_PRE_CHAIN = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_structlog() -> None:
    structlog.configure(
        processors=[
            # A line below the level is dropped before any work is done for it.
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def formatter(log_format: str) -> dict:
    """The `logging` formatter configuration for `json` or `console` lines."""
    renderer = (structlog.processors.JSONRenderer() if log_format == "json"
                else structlog.dev.ConsoleRenderer(colors=False))
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": FOREIGN_PRE_CHAIN,
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,  # after the traceback is text: a secret in it is masked too
            renderer,
        ],
    }


def logging_config(log_format: str, level: str) -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": formatter(log_format)},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        # django-structlog's request_finished and request_failed lines (status, traceback) say
        # what runserver's and django.request's would, with the context; those are written
        # after the request's context is gone.
        "loggers": {"django.server": {"level": "WARNING"},
                    "django.request": {"level": "CRITICAL"}},
    }
