from datetime import date, timedelta

from django import forms

from deals.forms import options_from
from deals.models import Deal, Organization, User
from stakeholders.models import ROLE_CHOICES, BuyerRole, Side, Stakeholder

from .drafting import reading
from .models import (
    WEEKDAYS,
    Milestone,
    Plan,
    PlanTemplate,
    Resource,
    ResourceSection,
)

DATE_INPUT = forms.DateInput(attrs={"type": "date"})
BUYER_ROLES = set(BuyerRole.values)


class PlanCreateForm(forms.Form):
    template = forms.ModelChoiceField(
        label="Template",
        queryset=PlanTemplate.objects.none(),
        required=False,
        empty_label="Blank plan (no steps)",
    )
    target_date = forms.DateField(label="Target signature date", widget=DATE_INPUT)
    business_outcome = forms.CharField(
        label="Business outcome (in the buyer's words)", max_length=300, required=False
    )
    sheet = forms.FileField(
        label="Or start from your spreadsheet (CSV or XLSX)",
        required=False,
        help_text="Its steps are shown to you before anything is imported; the template is "
        "not used then.",
    )

    conversation = forms.CharField(
        label="Or draft it from a conversation (transcript, call notes or email thread)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="The steps, owners, durations and dates it finds are shown to you before "
        "anything is added; the template's steps, if you chose one, are matched to them.",
    )
    call_date = forms.DateField(label="Day of the conversation", required=False, widget=DATE_INPUT)

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = PlanTemplate.objects.available_to(organization)

    def clean_conversation(self):
        text = self.cleaned_data["conversation"]
        if text.strip():
            try:
                return reading.check(text)
            except reading.Unreadable as refused:
                raise forms.ValidationError(str(refused)) from None
        return ""


class PlanOverviewForm(forms.Form):
    business_outcome = forms.CharField(
        label="Business outcome",
        max_length=300,
        required=False,
        help_text="One sentence, in the buyer's words.",
    )
    success_criteria = forms.CharField(
        label="Success criteria (one per line)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    review_weekday = forms.TypedChoiceField(label="Weekly review day", choices=WEEKDAYS, coerce=int)
    welcome_note = forms.CharField(
        label="Welcome note to the buyers",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown at the top of their deal room, signed with the deal owner's name.",
    )
    welcome_video_url = forms.URLField(
        label="Welcome video link",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="An https:// address (a recorded intro or demo); buyers get a link to it.",
    )

    def clean_welcome_video_url(self):
        url = self.cleaned_data["welcome_video_url"]
        if url and not url.lower().startswith("https://"):
            raise forms.ValidationError("Give an https:// address.")
        return url

    def clean_success_criteria(self):
        lines = [line.strip() for line in self.cleaned_data["success_criteria"].splitlines()]
        criteria = [line for line in lines if line]
        if len(criteria) > 10:
            raise forms.ValidationError("Keep it to at most 10 criteria (3–5 work best).")
        if any(len(c) > 300 for c in criteria):
            raise forms.ValidationError("Each criterion must be at most 300 characters.")
        return criteria


class MilestoneForm(forms.ModelForm):
    """Edit every field of a step. Owners come from this deal's stakeholders of the right
    side; the version the editor saw travels with the form (no silent overwrite)."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    reason = forms.CharField(
        label="Reason for the date change",
        max_length=300,
        required=False,
        help_text="Required when a committed date moves.",
    )

    class Meta:
        model = Milestone
        fields = [
            "title",
            "phase",
            "buyer_owner",
            "seller_owner",
            "due_date",
            "duration_days",
            "status",
            "risk",
            "visibility",
            "depends_on",
            "description",
            "shared_notes",
            "internal_note",
        ]
        labels = {
            "due_date": "Due date",
            "duration_days": "Duration (business days)",
            "risk": "High risk",
            "internal_note": "Internal note (seller team only)",
            "shared_notes": "Notes (shared with the buyer)",
            "depends_on": "Depends on",
        }
        widgets = {
            "due_date": DATE_INPUT,
            "description": forms.Textarea(attrs={"rows": 2}),
            "shared_notes": forms.Textarea(attrs={"rows": 2}),
            "internal_note": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, plan: Plan, stakeholders: list[Stakeholder] | None = None, **kwargs):
        """`stakeholders`: the deal's stakeholders when the view has them loaded already (the
        owner options are drawn from them without a query)."""
        super().__init__(*args, **kwargs)
        self.plan = plan
        on_deal = Stakeholder.objects.filter(deal_id=plan.deal_id)
        self.fields["buyer_owner"].queryset = on_deal.filter(side=Side.BUYER)
        self.fields["seller_owner"].queryset = on_deal.filter(side=Side.SELLER)
        self.fields["buyer_owner"].empty_label = "No buyer owner"
        self.fields["seller_owner"].empty_label = "No seller owner"
        if stakeholders is not None:
            for name, side in (("buyer_owner", Side.BUYER), ("seller_owner", Side.SELLER)):
                options_from(self.fields[name], [s for s in stakeholders if s.side == side])
        if "depends_on" in self.fields:
            others = plan.milestones.all()
            if self.instance.pk:
                others = others.exclude(pk=self.instance.pk)
            self.fields["depends_on"].queryset = others
            self.fields["depends_on"].empty_label = "Nothing"
        self.fields["title"].error_messages["required"] = "Give the step a title."
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version
            # Several rows can be in edit mode at once, next to the header's forms: ids
            # (and so the labels' `for`) are unique per step. Field names stay plain.
            self.auto_id = f"id_%s-{self.instance.public_id}"

    def clean_duration_days(self):
        days = self.cleaned_data["duration_days"]
        if days is None or days < 1:
            raise forms.ValidationError("A step lasts at least 1 business day.")
        if days > 250:
            raise forms.ValidationError("A step lasts at most 250 business days.")
        return days

    def clean(self):
        cleaned = super().clean()
        due, phase = cleaned.get("due_date"), cleaned.get("phase")
        target = self.plan.target_signature_date
        # The order against the target is checked when a date or phase is set: a done step
        # that kept its date when the target moved earlier stays editable.
        check_target = bool({"due_date", "phase"} & set(self.changed_data))
        if check_target and due and phase == "close" and due > target:
            self.add_error(
                "due_date",
                f"A close-plan step must be due on or before the target signature date "
                f"({target:%-d %b %Y}); move it to post-signature or reschedule the plan.",
            )
        if check_target and due and phase == "post" and due < target:
            self.add_error(
                "due_date",
                f"A post-signature step must be due on or after the target signature date "
                f"({target:%-d %b %Y}).",
            )
        depends_on = cleaned.get("depends_on")
        if due and depends_on and depends_on.due_date and due < depends_on.due_date:
            self.add_error(
                "due_date",
                f"It depends on “{depends_on.title}”, due {depends_on.due_date:%-d %b %Y}: "
                "it cannot be due earlier.",
            )
        return cleaned


class MilestoneAddForm(MilestoneForm):
    class Meta(MilestoneForm.Meta):
        fields = [
            "title",
            "phase",
            "buyer_owner",
            "seller_owner",
            "due_date",
            "duration_days",
            "risk",
            "visibility",
        ]


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Milestone.Status.choices)


class RescheduleForm(forms.Form):
    target_date = forms.DateField(label="New target signature date", widget=DATE_INPUT)
    reason = forms.CharField(label="Reason", max_length=300)


class StakeholderForm(forms.ModelForm):
    class Meta:
        model = Stakeholder
        fields = ["name", "title", "email", "phone", "role", "is_required_signer", "user"]
        labels = {"user": "Tandem user (seller side)", "is_required_signer": "Required signer"}
        help_texts = {
            "email": "Their room and signing links go to this address. Changing it revokes "
            "their links and voids outstanding signing requests (recorded in the signature log)."
        }

    def __init__(self, *args, deal: Deal, members=None, **kwargs):
        """`members`: the workspace's users when the view has them loaded already."""
        super().__init__(*args, **kwargs)
        self.deal = deal
        self.fields["role"].choices = [
            ("Buyer side", [c for c in ROLE_CHOICES if c[0] in BUYER_ROLES]),
            ("Seller side", [c for c in ROLE_CHOICES if c[0] not in BUYER_ROLES]),
        ]
        self.fields["user"].queryset = User.objects.filter(
            memberships__organization_id=deal.organization_id
        )
        self.fields["user"].required = False
        self.fields["user"].label_from_instance = lambda user: user.display_name
        if members is not None:
            options_from(self.fields["user"], members, lambda user: user.display_name)
        if not self.instance.pk:
            # On a new stakeholder "by role" lets the service decide: economic buyers and AEs
            # are required signers by default.
            self.fields["is_required_signer"] = forms.NullBooleanField(
                label="Required signer",
                required=False,
                widget=forms.Select(
                    choices=[
                        ("unknown", "By role (economic buyer and AE sign)"),
                        ("true", "Yes"),
                        ("false", "No"),
                    ]
                ),
            )

    def clean(self):
        cleaned = super().clean()
        role, user = cleaned.get("role"), cleaned.get("user")
        if user and role in BUYER_ROLES:
            self.add_error("user", "Only seller-side stakeholders can be linked to a Tandem user.")
        return cleaned


class TemplateSaveForm(forms.Form):
    name = forms.CharField(
        label="Template name",
        max_length=120,
        error_messages={"required": "Give the template a name."},
    )
    description = forms.CharField(label="Description", max_length=300, required=False)


class TemplateEditForm(forms.ModelForm):
    class Meta:
        model = PlanTemplate
        fields = ["name", "description"]


class BuyerMilestoneForm(forms.ModelForm):
    """A buyer adds one of their own steps: a buyer-side owner and a date are required."""

    class Meta:
        model = Milestone
        fields = ["title", "phase", "buyer_owner", "due_date", "duration_days", "description"]
        labels = {
            "due_date": "Due date",
            "buyer_owner": "Owner",
            "duration_days": "Duration (business days)",
        }
        widgets = {"due_date": DATE_INPUT, "description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, plan: Plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.fields["buyer_owner"].queryset = Stakeholder.objects.filter(
            deal_id=plan.deal_id, side=Side.BUYER
        )
        self.fields["buyer_owner"].required = True
        self.fields["buyer_owner"].empty_label = None
        self.fields["due_date"].required = True
        self.fields["title"].error_messages["required"] = "Give the step a title."
        self.fields["due_date"].error_messages["required"] = "Give the step a date."

    def clean_duration_days(self):
        days = self.cleaned_data["duration_days"]
        if days is None or not 1 <= days <= 250:
            raise forms.ValidationError("A step lasts between 1 and 250 business days.")
        return days


class BuyerStakeholderForm(forms.ModelForm):
    """The champion invites a colleague (the address must be at the buyer's own domain:
    stakeholders.services.invite_colleague)."""

    class Meta:
        model = Stakeholder
        fields = ["name", "title", "email", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = BuyerRole.choices
        self.fields["email"].required = True


class BuyerSelfForm(forms.ModelForm):
    """A buyer edits their own details in the room: never their address (where their links
    go), their role or whether they sign (stakeholders.services.BUYER_SELF_FIELDS)."""

    class Meta:
        model = Stakeholder
        fields = ["name", "title", "phone"]


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Mention people with @ and their name to notify them.",
        error_messages={"required": "Write something first."},
    )


class ProposalForm(forms.Form):
    proposed_date = forms.DateField(label="Proposed date", widget=DATE_INPUT)
    reason = forms.CharField(
        label="Reason", max_length=300, error_messages={"required": "Say why the date should move."}
    )


class SignForm(forms.Form):
    content_hash = forms.CharField(widget=forms.HiddenInput, max_length=64)
    typed_name = forms.CharField(
        label="Type your full name",
        max_length=150,
        error_messages={"required": "Type your full name to sign."},
    )
    consent = forms.BooleanField(
        label="I agree to sign this plan electronically",
        error_messages={"required": "Tick the box to agree to sign this plan electronically."},
    )
    password = forms.CharField(
        label="Your password (your sign-in is older than 10 minutes)",
        widget=forms.PasswordInput,
        required=False,
    )

    def __init__(self, *args, require_password: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if require_password:
            self.fields["password"].required = True
            self.fields["password"].error_messages["required"] = "Enter your password to sign."
        else:
            del self.fields["password"]


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label="Why do you decline?", max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class SigningCodeForm(forms.Form):
    code = forms.RegexField(
        label="6-digit code",
        regex=r"^\s*\d{6}\s*$",
        max_length=10,
        error_messages={"invalid": "Enter the 6 digits from the email."},
    )


class VerifyForm(forms.Form):
    file = forms.FileField(label="A Tandem PDF")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 30 * 1024 * 1024:
            raise forms.ValidationError("That file is too large to be a Tandem PDF.")
        head = upload.read(5)
        upload.seek(0)
        if head != b"%PDF-":
            raise forms.ValidationError("That is not a PDF.")
        return upload


class OwnerChoiceField(forms.ModelChoiceField):
    """Owners by public UUID: a malformed UUID is the same "choose from the list" error as
    an unknown one (ModelChoiceField lets the UUID field's own message through)."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except forms.ValidationError:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from None


class DashboardFilterForm(forms.Form):
    """The dashboard's filters (a GET form). Sellers get no owner field: they always see
    their own deals."""

    PERIODS = [
        ("", "Any close date"),
        ("this_month", "This month"),
        ("this_quarter", "This quarter"),
        ("next_quarter", "Next quarter"),
        ("this_year", "This year"),
        ("custom", "Custom dates"),
    ]

    owner = OwnerChoiceField(
        label="Owner",
        queryset=User.objects.none(),
        required=False,
        to_field_name="public_id",
        empty_label="All owners",
        error_messages={"invalid_choice": "Choose an owner from the list."},
    )
    stage = forms.ChoiceField(
        label="Stage",
        required=False,
        choices=[("", "All stages"), ("open", "Open deals"), *Deal.Stage.choices],
        error_messages={"invalid_choice": "Choose a stage from the list."},
    )
    period = forms.ChoiceField(
        label="Close period",
        required=False,
        choices=PERIODS,
        error_messages={"invalid_choice": "Choose a period from the list."},
    )
    close_from = forms.DateField(
        label="Closing from",
        required=False,
        widget=DATE_INPUT,
        error_messages={"invalid": "Enter a date such as 2025-01-31."},
    )
    close_to = forms.DateField(
        label="Closing until",
        required=False,
        widget=DATE_INPUT,
        error_messages={"invalid": "Enter a date such as 2025-12-31."},
    )
    amount_min = forms.DecimalField(
        label="Amount from",
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=2,
        error_messages={"invalid": "Enter an amount such as 50000."},
    )
    amount_max = forms.DecimalField(
        label="Amount up to",
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=2,
        error_messages={"invalid": "Enter an amount such as 250000."},
    )

    def __init__(self, *args, organization: Organization, today, show_owner: bool, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.today = today
        if show_owner:
            owner = self.fields["owner"]
            owner.queryset = User.objects.filter(memberships__organization=organization).order_by(
                "full_name", "email"
            )
            owner.label_from_instance = lambda user: user.display_name
        else:
            del self.fields["owner"]

    def clean(self):
        cleaned = super().clean()
        period = cleaned.get("period")
        close_from, close_to = cleaned.get("close_from"), cleaned.get("close_to")
        if (close_from or close_to) and period not in {"", "custom", None}:
            self.add_error(
                "period", "Choose “Custom dates” to use your own dates, or clear the dates."
            )
        elif period == "custom" and not (close_from or close_to):
            self.add_error("close_from", "Give a start or an end date for custom dates.")
        if close_from and close_to and close_from > close_to:
            self.add_error("close_to", "The end date is before the start date.")
        low, high = cleaned.get("amount_min"), cleaned.get("amount_max")
        if low is not None and high is not None and low > high:
            self.add_error("amount_max", "The maximum is below the minimum.")
        return cleaned

    def close_range(self):
        """(from, to) of the close period: a preset relative to today, or custom dates."""
        period = self.cleaned_data.get("period")
        today = self.today
        quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        if period == "this_month":
            return today.replace(day=1), _month_end(today)
        if period == "this_quarter":
            return quarter_start, _month_end(_add_months(quarter_start, 2))
        if period == "next_quarter":
            start = _add_months(quarter_start, 3)
            return start, _month_end(_add_months(start, 2))
        if period == "this_year":
            return date(today.year, 1, 1), date(today.year, 12, 31)
        return self.cleaned_data.get("close_from"), self.cleaned_data.get("close_to")

    @property
    def is_filtered(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)


def _add_months(day, months: int):
    index = day.month - 1 + months
    return day.replace(year=day.year + index // 12, month=index % 12 + 1, day=1)


def _month_end(day):
    return _add_months(day, 1) - timedelta(days=1)


# --- Shared materials (plans/materials.py) ----------------------------------------------------


class SectionForm(forms.ModelForm):
    class Meta:
        model = ResourceSection
        fields = ["title", "buyer_uploads"]
        labels = {"title": "Section name"}


class ResourceForm(forms.ModelForm):
    """A link or a file to add, or a resource's fields to edit (no file: a new file is a
    new version). The section and step choices are the plan's own."""

    file = forms.FileField(required=False)
    url = forms.URLField(
        label="Link address",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="An https:// address.",
    )

    class Meta:
        model = Resource
        fields = ["section", "title", "url", "note", "visibility", "milestone"]
        labels = {"milestone": "About the step"}
        help_texts = {"note": "Optional."}

    def __init__(self, *args, plan, kind=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind or self.instance.kind or Resource.Kind.LINK
        self.fields["section"].queryset = ResourceSection.objects.filter(plan=plan)
        self.fields["section"].empty_label = None
        self.fields["milestone"].queryset = Milestone.objects.filter(plan=plan).order_by(
            "phase", "position"
        )
        self.fields["milestone"].required = False
        self.fields["title"].required = self.kind == Resource.Kind.LINK
        if self.kind == Resource.Kind.FILE:
            del self.fields["url"]
            if self.instance.pk:
                del self.fields["file"]
            else:
                self.fields["file"].required = True
                self.fields["title"].help_text = "Optional: the file's name by default."
        else:
            del self.fields["file"]
            self.fields["url"].required = True

    def clean_url(self):
        url = self.cleaned_data["url"]
        if url and not url.lower().startswith("https://"):
            raise forms.ValidationError("Give an https:// address.")
        return url


class VersionForm(forms.Form):
    file = forms.FileField(label="New version")


class BuyerUploadForm(forms.Form):
    file = forms.FileField()
    title = forms.CharField(max_length=200, required=False, help_text="Optional.")


class ShareLinkForm(forms.Form):
    email = forms.EmailField(label="Their email address")
    days = forms.IntegerField(label="Link works for (days)", min_value=1, max_value=90, initial=14)
    message = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
