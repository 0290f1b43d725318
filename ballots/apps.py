from django.apps import AppConfig


class BallotsConfig(AppConfig):
    name = "ballots"
    verbose_name = "投票"

    def ready(self) -> None:
        from ballots import checks  # noqa: F401 (registers the system checks)
