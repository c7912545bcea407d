from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "plans"

    def ready(self):
        from stakeholders.signals import stakeholder_changed

        from . import receivers

        stakeholder_changed.connect(receivers.record_stakeholder_change, dispatch_uid="plans-sh")
