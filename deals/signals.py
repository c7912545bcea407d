"""Domain events of deals/. Higher apps listen (plans/ records the feed, notifications/
sends webhooks); deals/ never imports them. Sent inside the transaction of the change:
receivers with outside effects defer them with transaction.on_commit."""

from django.dispatch import Signal

# kwargs: deal, actor
deal_created = Signal()
# kwargs: deal, actor, changes ({field name: (old value, new value)})
deal_changed = Signal()
