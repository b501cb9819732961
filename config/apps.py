from django.apps import AppConfig


class ConfigConfig(AppConfig):
    name = "config"
    verbose_name = "Configuration"

    def ready(self) -> None:
        # Every process (web, Celery, management commands) watches its connections' writes.
        import config.response_cache  # noqa: F401
