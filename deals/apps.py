from django.apps import AppConfig


class DealsConfig(AppConfig):
    name = "deals"
    verbose_name = "Deals and workspaces"

    def ready(self):
        # app ready: connects the security log's receivers of allauth's password signals.
        from . import adapters  # noqa: F401
