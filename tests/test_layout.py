"""Tooling stays out of the runtime: the apps the site runs never import `tools` (an
import-linter contract in `make lint`), and `tools` brings nothing to the site (no models,
no URLs), so a deployment could leave it out."""

from django.apps import apps


def test_it_gives_the_tools_app_no_models():
    # No URLs either: casevote.urls would have to import tools, which the layers contract refuses.
    assert list(apps.get_app_config("tools").get_models()) == []
