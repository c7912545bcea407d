from django.utils.functional import SimpleLazyObject

from .models import Notification


def notification_bell(request):
    """The unread count of the bell in the seller navigation (base.html). Lazy: the query runs
    only when a full page shows the bell, never for fragments or buyer pages."""
    organization = getattr(request, "organization", None)
    user = getattr(request, "user", None)
    if organization is None or user is None or not user.is_authenticated:
        return {}

    def count() -> int:
        return Notification.objects.for_org(organization).filter(user=user).unread().count()

    return {"unread_notifications": SimpleLazyObject(count)}
