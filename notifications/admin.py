from django.contrib import admin

from .models import SentNotification


@admin.register(SentNotification)
class SentNotificationAdmin(admin.ModelAdmin):
    """The sent-notification log, for support: what was decided, sent, skipped or failed."""

    list_display = ["kind", "recipient", "period", "status", "attempts", "sent_at", "last_error"]
    list_filter = ["status", "kind"]
    search_fields = ["recipient"]
    readonly_fields = [field.name for field in SentNotification._meta.fields]
    list_select_related = ["organization"]

    def has_add_permission(self, request):
        return False
