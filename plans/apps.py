from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "plans"

    def ready(self):
        from deals.signals import deal_changed
        from stakeholders.signals import stakeholder_changed

        from . import receivers

        stakeholder_changed.connect(receivers.record_stakeholder_change, dispatch_uid="plans-sh")
        deal_changed.connect(receivers.record_deal_change, dispatch_uid="plans-deal-changed")
