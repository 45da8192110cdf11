from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "marketplace.ops"
    label = "ops"

    def ready(self) -> None:
        from marketplace.ops import checks  # noqa: F401  (registers the system checks)
