from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "plans"

    def ready(self):
        from deals.signals import deal_changed
        from stakeholders.signals import buyer_invited, room_opened, stakeholder_changed

        from . import receivers
        from .signals import plan_event

        stakeholder_changed.connect(receivers.record_stakeholder_change, dispatch_uid="plans-sh")
        buyer_invited.connect(receivers.record_invitation, dispatch_uid="plans-invited")
        room_opened.connect(receivers.record_room_visit, dispatch_uid="plans-visit")
        plan_event.connect(receivers.publish_live, dispatch_uid="plans-live")
        deal_changed.connect(receivers.record_deal_change, dispatch_uid="plans-deal-changed")
