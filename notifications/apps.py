from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self):
        from deals.signals import deal_created
        from plans.signals import mentioned, plan_event

        from . import receivers

        mentioned.connect(receivers.email_mentions, dispatch_uid="notifications-mentions")
        plan_event.connect(receivers.on_plan_event, dispatch_uid="notifications-webhooks")
        deal_created.connect(receivers.on_deal_created, dispatch_uid="notifications-deal")
        plan_event.connect(receivers.notify_buyer_events, dispatch_uid="notifications-buyer-events")
