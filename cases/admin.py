"""Admin for the catalogue: editors add and edit batches and cases.

This is the catalogue's own admin and knows nothing of the vote. The committee's
columns, settings and decisions are added by `ballots.admin.catalogue`, which
extends these classes (the way a project extends Django's UserAdmin). Nothing here
can be deleted; the voting settings and publication dates are read-only here.
"""

from django.contrib import admin
from django.http import HttpRequest

from cases.models import Batch, Case

CATALOGUE_FIELDS = ["number", "name", "notice", "first_number", "last_number"]
VOTING_FIELDS = [
    "voting_opens_at",
    "voting_closes_at",
    "min_choices",
    "max_choices",
    "frequency",
    "results_visibility",
]
PUBLISHED_FIELDS = ["results_published_at", "selected_published_at"]


def may_edit_catalogue(request: HttpRequest) -> bool:
    return request.user.has_perm("cases.add_case")


class NoDeleteAdmin(admin.ModelAdmin):
    """Batches and cases are evidence of the campaign: never deleted."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Batch)
class BatchAdmin(NoDeleteAdmin):
    list_display = ["number", "name", "number_range", "voting_opens_at", "voting_closes_at"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": CATALOGUE_FIELDS}),
        (
            "投票设置（北京时间）",
            {
                "fields": [
                    ("voting_opens_at", "voting_closes_at"),
                    ("min_choices", "max_choices"),
                    "frequency",
                    "results_visibility",
                ]
            },
        ),
        ("公布", {"fields": PUBLISHED_FIELDS}),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = [*PUBLISHED_FIELDS, *VOTING_FIELDS]
        if obj is not None and not may_edit_catalogue(request):
            readonly += CATALOGUE_FIELDS
        return readonly

    @admin.display(description="编号范围")
    def number_range(self, batch: Batch) -> str:
        return batch.number_range_display


@admin.register(Case)
class CaseAdmin(NoDeleteAdmin):
    list_display = ["display_number", "title", "province", "batch", "status"]
    list_display_links = ["display_number", "title"]
    list_filter = ["batch", "status", "province"]
    search_fields = ["title", "body", "=number"]
    list_select_related = ["batch"]
    ordering = ["number"]
    readonly_fields = ["status"]

    @admin.display(description="编号", ordering="number")
    def display_number(self, case: Case) -> str:
        return case.display_number
