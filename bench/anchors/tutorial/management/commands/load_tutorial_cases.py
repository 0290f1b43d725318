"""Load a batch's cases (fixtures/batch2.json) into the anchor project's tutorial app."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from bench.anchors.tutorial.models import Case


class Command(BaseCommand):
    help = "Create or update the tutorial cases from a batch file (number, title, province, body)"

    def add_arguments(self, parser):
        parser.add_argument("path", help="a batch file such as fixtures/batch2.json")

    def handle(self, *args, path: str, **options):
        try:
            with open(path, encoding="utf-8") as handle:
                rows = json.load(handle)["cases"]
        except (OSError, ValueError, KeyError) as error:
            raise CommandError(f"{path}: not a batch file ({error})") from None
        with transaction.atomic():
            for row in rows:
                if not isinstance(row.get("number"), int) or not row.get("title"):
                    raise CommandError(f"{path}: case {row.get('number')!r} has no number or title")
                Case.objects.update_or_create(
                    number=row["number"],
                    defaults={
                        "title": row["title"],
                        "province": row.get("province", ""),
                        "summary": "\n".join(row.get("body", [])),
                    },
                )
        self.stdout.write(f"{len(rows)} cases loaded")
