from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self):
        from plans.signals import mentioned, plan_event

        from . import receivers

        mentioned.connect(receivers.email_mentions, dispatch_uid="notifications-mentions")
        plan_event.connect(receivers.notify_buyer_events, dispatch_uid="notifications-buyer-events")
