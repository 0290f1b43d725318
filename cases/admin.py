"""Admin for the catalogue: editors add and edit batches and cases.

This is the catalogue's own admin and knows nothing of the vote. The committee's
columns, settings and decisions are added by `ballots.admin.catalogue`, which
extends these classes (the way a project extends Django's UserAdmin). Nothing here
can be deleted; the voting settings and publication dates are read-only here.

Editors prepare drafts while a vote runs: a draft (and its cases) is seen only by
staff, who can preview its public pages ("在网站上预览"). Once the committee has
published a batch, its cases cannot be added, moved or renumbered, and no range may
leave out a case a batch holds (the models' `clean()` says why, here and in
`load_cases`).
"""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from cases.models import VOTING_FIELDS, Batch, Case

CATALOGUE_FIELDS = ["number", "name", "notice", "first_number", "last_number"]
PUBLISHED_FIELDS = ["published_at", "archived_at", "results_published_at", "selected_published_at"]


def may_edit_catalogue(request: HttpRequest) -> bool:
    return request.user.has_perm("cases.add_case")


class NoDeleteAdmin(admin.ModelAdmin):
    """Batches and cases are evidence of the campaign: never deleted."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Batch)
class BatchAdmin(NoDeleteAdmin):
    list_display = [
        "number",
        "name",
        "number_range",
        "state",
        "voting_opens_at",
        "voting_closes_at",
        "preview_link",
    ]
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
        elif obj is not None and obj.is_published:
            readonly.append("number")  # its pages' addresses are public
        return readonly

    @admin.display(description="编号范围")
    def number_range(self, batch: Batch) -> str:
        return batch.number_range_display

    @admin.display(description="状态")
    def state(self, batch: Batch) -> str:
        return batch.state_display()

    @admin.display(description="网站")
    def preview_link(self, batch: Batch) -> str:
        label = "查看" if batch.is_published else "预览"
        return format_html('<a href="{}">{}</a>', batch.get_absolute_url(), label)


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
