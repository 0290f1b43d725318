from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "案例"

    def ready(self) -> None:
        from cases import checks  # noqa: F401 (registers the system checks)
        from casevote import checks as site_checks  # noqa: F401 (the site's infrastructure)
