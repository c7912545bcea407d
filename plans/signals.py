"""Domain events of plans/. notifications/ (and live updates) listen; plans/ never imports
them. Sent inside the transaction of the change: receivers with outside effects (email,
webhooks, live events) defer them with transaction.on_commit.
"""

from django.dispatch import Signal

# kwargs: plan, actor, verb (an Activity.Verb), milestone (or None), activity
plan_event = Signal()

# kwargs: comment, people (Stakeholders @mentioned), actor
mentioned = Signal()
