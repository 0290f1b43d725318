from django.apps import AppConfig


class ToolsConfig(AppConfig):
    """Tooling beside the site: the vote simulator and the scraped-page cleaner, with their
    commands. No models and no URLs; the runtime apps never import it."""

    name = "tools"
    verbose_name = "工具"
