from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "marketplace.ops"
    label = "ops"

    def ready(self) -> None:
        from marketplace.ops import checks  # noqa: F401  (registers the system checks)
        from marketplace.ops.task_signals import task_signals_connect

        task_signals_connect()
