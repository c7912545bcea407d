import ipaddress
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.auth import password_validation
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from . import images, revisions
from .models import TIME_ZONE_CHOICES, Deal, Membership, Organization, SecurityEvent, User
from .services import create_workspace


class WorkspaceSignupForm(forms.Form):
    """allauth's sign-up form is extended with a name and the new workspace's name."""

    full_name = forms.CharField(label="Your full name", max_length=150)
    workspace_name = forms.CharField(
        label="Workspace name", max_length=120, help_text="Usually your company's name."
    )
    time_zone = forms.ChoiceField(label="Time zone", choices=TIME_ZONE_CHOICES, initial="UTC")

    field_order = ["full_name", "email", "workspace_name", "time_zone", "password1", "password2"]

    def signup(self, request, user):
        user.full_name = self.cleaned_data["full_name"].strip()
        user.save(update_fields=["full_name"])
        create_workspace(
            name=self.cleaned_data["workspace_name"],
            admin=user,
            time_zone=self.cleaned_data["time_zone"],
        )


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(label="Role", choices=Membership.Role.choices, initial="seller")

    def __init__(self, *args, organization: Organization, **kwargs):
        self.organization = organization
        super().__init__(*args, **kwargs)

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if Membership.objects.for_org(self.organization).filter(user__email__iexact=email).exists():
            raise forms.ValidationError("This person is already a member of the workspace.")
        return email


class AcceptInvitationForm(forms.Form):
    """Create the invited person's account (their email is fixed by the invitation)."""

    full_name = forms.CharField(label="Your full name", max_length=150)
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput)
    password2 = forms.CharField(label="Password (again)", widget=forms.PasswordInput)

    def __init__(self, *args, email: str, **kwargs):
        self.email = email
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords do not match.")
        elif p1:
            try:
                password_validation.validate_password(
                    p1, User(email=self.email, full_name=cleaned.get("full_name", ""))
                )
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class WorkspaceSettingsForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = [
            "name",
            "time_zone",
            "room_link_days",
            "accent_color",
            "logo",
            "escalate_to_champion",
        ]
        labels = {"name": "Workspace name", "time_zone": "Time zone"}
        help_texts = {"accent_color": "Used in the buyer room and in emails."}
        widgets = {"accent_color": forms.TextInput(attrs={"type": "color"})}

    # A plain file field: the content alone decides (deals/images.py), not the file's name
    # or declared type, and no image format other than the three accepted is ever parsed.
    logo = forms.FileField(
        required=False,
        help_text="PNG, JPEG or WebP, shown in the buyer room and in emails (at most 1 MB "
        "and 4096×4096 pixels).",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._previous_logo = self.instance.logo.name

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if isinstance(logo, UploadedFile):
            # Stored is what Pillow re-encoded, under a name of our choosing.
            return images.normalize_logo(logo)
        return logo

    @transaction.atomic
    def save(self, commit=True):
        organization = super().save(commit=commit)
        if commit:
            revisions.bump_workspace(organization.pk)  # the room shows name, logo, colour
        if commit and self._previous_logo and self._previous_logo != organization.logo.name:
            organization.logo.storage.delete(self._previous_logo)
        return organization


class WorkspaceSettingsAdminForm(WorkspaceSettingsForm):
    """The Settings page's form: the creation fields plus the dashboard settings."""

    class Meta(WorkspaceSettingsForm.Meta):
        fields = [*WorkspaceSettingsForm.Meta.fields, "map_coverage_threshold"]
        widgets = {
            **WorkspaceSettingsForm.Meta.widgets,
            "map_coverage_threshold": forms.NumberInput(attrs={"min": 0, "step": "0.01"}),
        }


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Membership.Role.choices)


class DealForm(forms.ModelForm):
    class Meta:
        model = Deal
        fields = [
            "account_name",
            "name",
            "amount",
            "currency",
            "stage",
            "owner",
            "target_close_date",
        ]
        labels = {"name": "Opportunity", "account_name": "Account", "owner": "Owner"}
        widgets = {"target_close_date": forms.DateInput(attrs={"type": "date"})}

    room_open_until = forms.DateField(
        label="Deal room open until",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="After this day the buyers' links stop opening the room, and documents sent "
        "by link stop opening too. Empty: the room stays open.",
    )

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = ZoneInfo(organization.time_zone)
        if self.instance.room_closes_at is not None:
            # The stored moment is the midnight that ends the day shown.
            last = self.instance.room_closes_at.astimezone(self.zone) - timedelta(seconds=1)
            self.initial["room_open_until"] = last.date()
        self.fields["owner"].queryset = User.objects.filter(
            memberships__organization=organization
        ).order_by("full_name", "email")
        self.fields["owner"].label_from_instance = lambda user: user.display_name
        self.fields["stage"].choices = (
            [c for c in Deal.Stage.choices if c[0] not in Deal.CLOSED_STAGES]
            if not self.instance.pk
            else Deal.Stage.choices
        )

    def clean_room_open_until(self):
        day = self.cleaned_data["room_open_until"]
        if day is None:
            self.cleaned_data["room_closes_at"] = None
            return None
        closes_at = datetime.combine(day + timedelta(days=1), time.min, tzinfo=self.zone)
        if closes_at <= timezone.now() and closes_at != self.instance.room_closes_at:
            raise forms.ValidationError("Choose today or a later day.")
        self.cleaned_data["room_closes_at"] = closes_at
        return day

    def clean(self):
        cleaned = super().clean()
        # The service stores the moment (room_closes_at), not the day the form shows.
        cleaned.pop("room_open_until", None)
        return cleaned

    def clean_currency(self):
        currency = self.cleaned_data["currency"].strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise forms.ValidationError("Use a three-letter currency code such as USD or EUR.")
        return currency

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is not None and amount < 0:
            raise forms.ValidationError("The amount cannot be negative.")
        return amount


class DealCloseForm(forms.Form):
    outcome = forms.ChoiceField(
        label="Outcome",
        choices=[(Deal.Stage.CLOSED_WON, "Won"), (Deal.Stage.CLOSED_LOST, "Lost")],
    )
    closed_date = forms.DateField(label="Closed on", widget=forms.DateInput(attrs={"type": "date"}))


def options_from(field: forms.ModelChoiceField, objects, label=str) -> None:
    """Draw the options of `field` from rows the view loads once for several forms, instead
    of a query per form when it renders; submissions are still validated against the
    field's queryset. `objects` is read only if the form is rendered (it may be lazy)."""
    empty = [("", field.empty_label)] if field.empty_label is not None else []
    field.widget.choices = lambda: empty + [(obj.pk, label(obj)) for obj in objects]


def members_of(organization: Organization):
    return User.objects.filter(memberships__organization=organization).order_by(
        "full_name", "email"
    )


class DealTransferForm(forms.Form):
    owner = forms.ModelChoiceField(label="New owner", queryset=User.objects.none())

    def __init__(self, *args, organization: Organization, members=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = members_of(organization)
        self.fields["owner"].label_from_instance = lambda user: user.display_name
        if members is not None:
            options_from(self.fields["owner"], members, lambda user: user.display_name)


class WorkspaceCreateForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name", "time_zone"]
        labels = {"name": "Workspace name", "time_zone": "Time zone"}


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Key name",
        max_length=100,
        help_text="What uses it, e.g. “Salesforce sync”.",
    )


class SecurityLogFilterForm(forms.Form):
    """The filters of Settings → Security log (a GET form). Dates are days of the
    workspace's time zone, both included."""

    EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
    DATE_HELP = "Enter a date such as 2025-01-31."

    kind = forms.ChoiceField(
        label="What",
        required=False,
        error_messages={"invalid_choice": "Choose an event or a group from the list."},
    )
    who = forms.CharField(
        label="Who (name or email)",
        required=False,
        max_length=254,
        error_messages={"max_length": "Enter at most 254 characters."},
    )
    since = forms.DateField(
        label="From",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_HELP},
    )
    until = forms.DateField(
        label="Until",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_HELP},
    )
    ip = forms.CharField(label="IP address", required=False, max_length=64)

    def __init__(self, *args, time_zone: str = "UTC", **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.time_zone = ZoneInfo(time_zone)
        self.fields["kind"].choices = [("", "All events"), *SecurityEvent.kind_choices()]

    def _clean_day(self, name: str):
        day = self.cleaned_data.get(name)
        if day is not None and not self.EARLIEST <= day <= self.LATEST:
            raise forms.ValidationError("Choose a date between 2000 and 2999.")
        return day

    def clean_since(self):
        return self._clean_day("since")

    def clean_until(self):
        return self._clean_day("until")

    def clean_ip(self):
        text = self.cleaned_data["ip"].strip()
        if not text:
            return ""
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            raise forms.ValidationError(
                "Enter one IP address, such as 203.0.113.9 or 2001:db8::1."
            ) from None

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "Choose a day on or after the “From” day.")
        return cleaned

    def _start_of(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.time_zone)

    def apply_to(self, events):
        """The entries that match the (valid) filters."""
        data = self.cleaned_data
        events = events.of_kind(data["kind"]).by(data["who"])
        if data["since"]:
            events = events.filter(created_at__gte=self._start_of(data["since"]))
        if data["until"]:
            events = events.filter(created_at__lt=self._start_of(data["until"] + timedelta(1)))
        if data["ip"]:
            events = events.filter(ip_address=data["ip"])
        return events
