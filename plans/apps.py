from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


def add_sqlite_functions(sender, connection, **kwargs) -> None:
    """SQLite's LOWER() lowers ASCII letters only: `tandem_lower` is Python's str.lower, as
    the dashboard's sorts lower names (plans.dashboard.metrics.HEALTH_SORTS; dashboard.panels sorts
    in SQL)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("tandem_lower", 1, _lower, deterministic=True)


class PlansConfig(AppConfig):
    name = "plans"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_delete, post_save

        from deals.models import Membership
        from deals.signals import deal_changed
        from stakeholders.signals import (
            buyer_invited,
            identity_changed,
            links_revoked,
            room_opened,
            stakeholder_changed,
        )

        from . import receivers
        from .signals import plan_event
        from .signing import signatures

        stakeholder_changed.connect(receivers.record_stakeholder_change, dispatch_uid="plans-sh")
        buyer_invited.connect(receivers.record_invitation, dispatch_uid="plans-invited")
        room_opened.connect(receivers.record_room_visit, dispatch_uid="plans-visit")
        identity_changed.connect(signatures.void_signer_identity, dispatch_uid="plans-identity")
        plan_event.connect(receivers.publish_live, dispatch_uid="plans-live")
        deal_changed.connect(receivers.record_deal_change, dispatch_uid="plans-deal-changed")
        # Open event streams end with what authorized them (plans/live.py).
        links_revoked.connect(receivers.end_link_streams, dispatch_uid="plans-live-links")
        post_delete.connect(
            receivers.end_member_streams, sender=Membership, dispatch_uid="plans-live-member"
        )
        post_save.connect(
            receivers.end_inactive_user_streams,
            sender=get_user_model(),
            dispatch_uid="plans-live-user",
        )
        user_logged_out.connect(receivers.end_session_streams, dispatch_uid="plans-live-logout")
        connection_created.connect(add_sqlite_functions, dispatch_uid="plans-sqlite-functions")
