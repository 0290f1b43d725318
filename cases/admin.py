from django.contrib import admin

from cases.models import Batch, Case


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "number_range_display", "voting_opens_at", "voting_closes_at"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["number", "name", "notice", "first_number", "last_number"]}),
        (
            "投票设置（北京时间）",
            {
                "fields": [
                    ("voting_opens_at", "voting_closes_at"),
                    ("min_choices", "max_choices"),
                    "frequency",
                    "results_visibility",
                    "results_published_at",
                ]
            },
        ),
    ]


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["display_number", "title", "province", "batch", "status", "updated_at"]
    list_display_links = ["display_number", "title"]
    list_filter = ["batch", "status", "province"]
    search_fields = ["title", "body", "=number"]
    list_select_related = ["batch"]
    ordering = ["number"]

    @admin.display(description="编号", ordering="number")
    def display_number(self, case: Case) -> str:
        return case.display_number
