from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self):
        from plans.signals import mentioned

        from . import receivers

        mentioned.connect(receivers.email_mentions, dispatch_uid="notifications-mentions")
