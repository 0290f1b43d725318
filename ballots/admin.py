from django.contrib import admin

from ballots.models import Ballot, Choice, Follower


class ReadOnlyAdmin(admin.ModelAdmin):
    """Evidence is never edited or deleted through the admin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ChoiceInline(admin.TabularInline):
    model = Choice
    fields = ["case"]
    readonly_fields = ["case"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Follower)
class FollowerAdmin(ReadOnlyAdmin):
    list_display = ["id", "backend", "followed_at", "created_at"]
    list_filter = ["backend"]
    date_hierarchy = "followed_at"


@admin.register(Ballot)
class BallotAdmin(ReadOnlyAdmin):
    list_display = ["receipt", "batch", "cast_at", "status", "ip_address", "device_id"]
    list_filter = ["status", "batch", "cast_day"]
    search_fields = ["=receipt"]
    date_hierarchy = "cast_at"
    list_select_related = ["batch"]
    inlines = [ChoiceInline]
