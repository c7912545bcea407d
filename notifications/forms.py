from django import forms

from .models import BUYER_KINDS, Kind


class PreferencesForm(forms.Form):
    """One checkbox per kind of email: checked means "email me"."""

    def __init__(self, *args, kinds=None, **kwargs):
        super().__init__(*args, **kwargs)
        for kind in kinds or Kind.values:
            self.fields[kind] = forms.BooleanField(label=Kind(kind).label, required=False)

    @classmethod
    def for_buyer(cls, *args, **kwargs):
        return cls(*args, kinds=list(BUYER_KINDS), **kwargs)
