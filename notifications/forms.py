"""Forms of notifications/: webhook endpoints and email preferences."""

from django import forms

from . import webhooks
from .models import BUYER_KINDS, EVENT_TYPES, Kind, WebhookEndpoint


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=500,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks"}),
    )
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=[(name, f"{name} — {label}") for name, label in EVENT_TYPES.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "kind", "description", "event_types"]
        labels = {"kind": "Format", "description": "Description"}

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        try:
            webhooks.check_url(url)
        except webhooks.UnsafeURL as exc:
            raise forms.ValidationError(str(exc)) from None
        return url


class PreferencesForm(forms.Form):
    """One checkbox per kind of email: checked means "email me"."""

    def __init__(self, *args, kinds=None, **kwargs):
        super().__init__(*args, **kwargs)
        for kind in kinds or Kind.values:
            self.fields[kind] = forms.BooleanField(label=Kind(kind).label, required=False)

    @classmethod
    def for_buyer(cls, *args, **kwargs):
        return cls(*args, kinds=list(BUYER_KINDS), **kwargs)
