"""Deploy checks: reporters' screenshots must not be reachable as public files."""

import stat
from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

FILE_SYSTEM_STORAGE = "django.core.files.storage.FileSystemStorage"


def private_root() -> Path | None:
    config = settings.STORAGES.get("reports")
    if not config or config.get("BACKEND") != FILE_SYSTEM_STORAGE:
        return None  # a bucket: its privacy is the bucket's policy (README)
    return Path(config.get("OPTIONS", {}).get("location") or settings.MEDIA_ROOT).resolve()


def inside(path: Path, folder) -> bool:
    if not folder:
        return False
    folder = Path(folder).resolve()
    return path == folder or folder in path.parents


@register()
def reports_storage(app_configs, **kwargs) -> list:
    if "reports" not in settings.STORAGES:
        return [
            Error(
                'STORAGES["reports"] is missing: reporters\' screenshots have nowhere private to go.',
                id="reports.E001",
            )
        ]
    root = private_root()
    if root is None:
        return []
    public = [settings.STATIC_ROOT, settings.MEDIA_ROOT, *settings.STATICFILES_DIRS]
    if any(inside(root, folder) for folder in public):
        return [
            Error(
                f"CASEVOTE_PRIVATE_MEDIA_ROOT ({root}) is inside a public static or media folder: "
                "reporters' screenshots could be served to anyone.",
                hint="Point CASEVOTE_PRIVATE_MEDIA_ROOT at a folder outside STATIC_ROOT, "
                "MEDIA_ROOT and STATICFILES_DIRS.",
                id="reports.E002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def private_root_permissions(app_configs, **kwargs) -> list:
    root = private_root()
    if root is None or not root.exists():
        return []
    if root.stat().st_mode & (stat.S_IROTH | stat.S_IXOTH | stat.S_IWOTH):
        return [
            Warning(
                f"CASEVOTE_PRIVATE_MEDIA_ROOT ({root}) is readable by every account on the server.",
                hint=f"chmod 700 {root}",
                id="reports.W001",
            )
        ]
    return []
