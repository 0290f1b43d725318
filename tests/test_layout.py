"""Tooling stays out of the runtime: the apps the site runs never import `tools`, and
`tools` brings nothing to the site (no models, no URLs), so a deployment could leave it out."""

import ast
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_APPS = ("casevote", "cases", "ballots")


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_it_keeps_the_runtime_apps_free_of_tooling_imports():
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for app in RUNTIME_APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        for module in sorted(imported_modules(path))
        if module == "tools" or module.startswith("tools.")
    ]

    assert offenders == []


def test_it_gives_the_tools_app_no_models():
    # No URLs either: casevote/urls.py would have to import tools, which the test above refuses.
    assert list(apps.get_app_config("tools").get_models()) == []
