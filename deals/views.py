import csv
import json
import uuid
from functools import wraps
from zoneinfo import ZoneInfo

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST, require_safe

from . import emails, images, services
from .authentication import request_actor
from .forms import (
    AcceptInvitationForm,
    ApiKeyForm,
    DealCloseForm,
    DealForm,
    InvitationForm,
    MemberRoleForm,
    SecurityLogFilterForm,
    WorkspaceCreateForm,
    WorkspaceSettingsAdminForm,
)
from .models import (
    ApiKey,
    Deal,
    Invitation,
    Membership,
    Organization,
    SecurityEvent,
    User,
    css_color,
)
from .tenancy import SESSION_LAST_ORG, org_view


def home(request):
    """Send a signed-in person to the home of their last workspace; others to sign in."""
    if not request.user.is_authenticated:
        return redirect("account_login")
    memberships = Membership.objects.filter(user=request.user).select_related("organization")
    last = request.session.get(SESSION_LAST_ORG)
    chosen = next((m for m in memberships if m.organization.slug == last), None)
    chosen = chosen or next(iter(memberships), None)
    if chosen is None:
        return redirect("workspace-create")
    return _workspace_home(chosen)


@org_view
def workspace_home(request):
    """/o/<workspace>/: the workspace's home — the pipeline dashboard for managers, the
    deals for everyone else (admins too: they run deals, and a new workspace's admin starts
    by adding one)."""
    return _workspace_home(request.membership)


def _workspace_home(membership: Membership):
    if membership.role == Membership.Role.MANAGER:
        # By name: the dashboard is the plans app's page (an app above this one).
        return redirect("plans:dashboard", org_slug=membership.organization.slug)
    return redirect(membership.organization.get_absolute_url())


@login_required
def workspace_create(request):
    """Create another workspace (the signer becomes its admin)."""
    form = WorkspaceCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        organization = services.create_workspace(
            name=form.cleaned_data["name"],
            admin=request.user,
            time_zone=form.cleaned_data["time_zone"],
        )
        messages.success(request, f"Workspace “{organization.name}” created.")
        return redirect(organization.get_absolute_url())
    has_workspace = Membership.objects.filter(user=request.user).exists()
    return render(
        request, "deals/workspace_create.html", {"form": form, "has_workspace": has_workspace}
    )


SORTS = {
    "close": ("target_close_date", "account_name"),
    "-close": ("-target_close_date", "account_name"),
    "amount": ("amount", "account_name"),
    "-amount": ("-amount", "account_name"),
    "account": ("account_name",),
}


@org_view
def deal_list(request):
    """Deals of the workspace: search, filter by stage and owner, sort by close date."""
    organization = request.organization
    params = request.GET
    deals = (
        Deal.objects.for_org(organization)
        .select_related("owner", "plan")
        .search(params.get("q", ""))
    )
    stage = params.get("stage", "")
    if stage == "open":
        deals = deals.open()
    elif stage in Deal.Stage.values:
        deals = deals.filter(stage=stage)
    owner = params.get("owner", "")
    if owner == "me":
        deals = deals.filter(owner=request.user)
    elif owner:
        deals = deals.filter(owner__public_id=owner) if _is_uuid(owner) else deals.none()
    show_archived = params.get("archived") == "1"
    if not show_archived:
        deals = deals.filter(Q(plan=None) | Q(plan__archived_at=None))
    sort = params.get("sort", "close")
    deals = deals.order_by(*SORTS.get(sort, SORTS["close"]))
    context = {
        "deals": deals,
        "stages": Deal.Stage.choices,
        "owners": User.objects.filter(memberships__organization=organization).order_by(
            "full_name", "email"
        ),
        "filters": {
            "q": params.get("q", ""),
            "stage": stage,
            "owner": owner,
            "sort": sort,
            "archived": show_archived,
        },
        "nav": "deals",
    }
    template = "deals/deal_list.html"
    if request.htmx and request.htmx.target == "deal-results":
        template += "#deal-results"
    return render(request, template, context)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@org_view
def deal_create(request):
    form = DealForm(
        request.POST or None,
        organization=request.organization,
        initial={"owner": request.user, "currency": "USD"},
    )
    if request.method == "POST":
        if form.is_valid():
            deal = services.create_deal(
                request.organization, actor=request_actor(request), **form.cleaned_data
            )
            messages.success(request, f"Deal “{deal}” created. Now build its plan.")
            return redirect(deal.get_absolute_url())
        return render(request, "deals/deal_form.html", {"form": form, "nav": "deals"}, status=422)
    return render(request, "deals/deal_form.html", {"form": form, "nav": "deals"})


@org_view
def deal_edit(request, deal_id):
    deal = get_object_or_404(Deal.objects.for_org(request.organization), public_id=deal_id)
    form = DealForm(request.POST or None, instance=deal, organization=request.organization)
    if request.method == "POST":
        if form.is_valid():
            # Through the service, as the API edits (deal_changed: the feed, webhooks). The
            # form has already set the new values on its instance: compare with the row.
            current = Deal.objects.for_org(request.organization).get(pk=deal.pk)
            services.update_deal(current, actor=request_actor(request), **form.cleaned_data)
            messages.success(request, "Deal saved.")
            return redirect(deal.get_absolute_url())
        context = {"form": form, "deal": deal, "nav": "deals"}
        return render(request, "deals/deal_form.html", context, status=422)
    return render(request, "deals/deal_form.html", {"form": form, "deal": deal, "nav": "deals"})


@require_POST
@org_view
def deal_close(request, deal_id):
    """Close a deal won or lost (or reopen it with outcome "reopen")."""
    deal = get_object_or_404(Deal.objects.for_org(request.organization), public_id=deal_id)
    actor = request_actor(request)
    if request.POST.get("outcome") == "reopen":
        services.update_deal(deal, actor=actor, stage=Deal.Stage.NEGOTIATION, closed_date=None)
        messages.success(request, "Deal reopened.")
        return redirect(deal.get_absolute_url())
    form = DealCloseForm(request.POST)
    if not form.is_valid():
        context = {"deal": deal, "form": form, "nav": "deals"}
        return render(request, "deals/deal_close.html", context, status=422)
    services.update_deal(
        deal,
        actor=actor,
        stage=form.cleaned_data["outcome"],
        closed_date=form.cleaned_data["closed_date"],
    )
    messages.success(request, f"Deal closed: {deal.get_stage_display().lower()}.")
    return redirect(deal.get_absolute_url())


@org_view
def workspace_settings(request):
    organization = request.organization
    is_admin = request.membership.is_admin
    settings_form = WorkspaceSettingsAdminForm(instance=organization, prefix="ws")
    invite_form = InvitationForm(organization=organization, prefix="invite")
    api_key_form = ApiKeyForm(prefix="key")
    if request.method == "POST":
        if not is_admin:
            raise Http404("Only workspace admins can change settings.")
        if "ws-name" in request.POST:
            settings_form = WorkspaceSettingsAdminForm(
                request.POST, request.FILES, instance=organization, prefix="ws"
            )
            if settings_form.is_valid():
                settings_form.save()
                messages.success(request, "Workspace settings saved.")
                return redirect("deals:workspace-settings", org_slug=organization.slug)
        else:
            invite_form = InvitationForm(request.POST, organization=organization, prefix="invite")
            if invite_form.is_valid():
                services.invite_teammate(
                    organization,
                    email=invite_form.cleaned_data["email"],
                    role=invite_form.cleaned_data["role"],
                    invited_by=request.user,
                )
                email = invite_form.cleaned_data["email"]
                if emails.unsent(request):
                    messages.warning(
                        request,
                        f"The invitation could not be emailed to {email} (the mail server did "
                        "not answer): invite them again in a moment (it replaces this one).",
                    )
                else:
                    messages.success(request, f"Invitation sent to {email}.")
                return redirect("deals:workspace-settings", org_slug=organization.slug)
    context = {
        "settings_form": settings_form,
        "invite_form": invite_form,
        "members": Membership.objects.for_org(organization).select_related("user"),
        "invitations": Invitation.objects.for_org(organization).pending() if is_admin else [],
        "roles": Membership.Role.choices,
        "is_admin": is_admin,
        "api_key_form": api_key_form,
        "api_keys": ApiKey.objects.for_org(organization).select_related("created_by")
        if is_admin
        else [],
        "nav": "settings",
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "deals/workspace_settings.html", context, status=status)


@require_POST
@org_view(admin_only=True)
def api_key_create(request):
    """Create an API key and show it once (only its hash is kept)."""
    form = ApiKeyForm(request.POST, prefix="key")
    if not form.is_valid():
        messages.error(request, "Give the key a name (at most 100 characters).")
        return redirect("deals:workspace-settings", org_slug=request.organization.slug)
    api_key, key = services.create_api_key(
        request.organization, name=form.cleaned_data["name"], created_by=request.user
    )
    response = render(
        request,
        "deals/api_key_created.html",
        {"api_key": api_key, "key": key, "nav": "settings"},
        status=201,
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@org_view(admin_only=True)
def api_key_revoke(request, key_id):
    api_key = get_object_or_404(ApiKey.objects.for_org(request.organization), public_id=key_id)
    services.revoke_api_key(api_key, actor=request.user)
    messages.success(request, f"API key “{api_key.name}” revoked: it no longer works.")
    return redirect("deals:workspace-settings", org_slug=request.organization.slug)


@require_POST
@org_view(admin_only=True)
def member_role(request, member_id):
    membership = get_object_or_404(
        Membership.objects.for_org(request.organization).select_related("user"),
        public_id=member_id,
    )
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect("deals:workspace-settings", org_slug=request.organization.slug)
    try:
        services.change_member_role(membership, role=form.cleaned_data["role"], actor=request.user)
    except services.MembershipError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{membership.user} is now {membership.get_role_display()}.")
    return redirect("deals:workspace-settings", org_slug=request.organization.slug)


@require_POST
@org_view(admin_only=True)
def member_remove(request, member_id):
    membership = get_object_or_404(
        Membership.objects.for_org(request.organization).select_related("user"),
        public_id=member_id,
    )
    try:
        services.remove_member(membership, actor=request.user)
    except services.MembershipError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{membership.user} was removed from the workspace.")
    return redirect("deals:workspace-settings", org_slug=request.organization.slug)


@require_POST
@org_view(admin_only=True)
def invitation_revoke(request, invitation_id):
    invitation = get_object_or_404(
        Invitation.objects.for_org(request.organization).pending(), public_id=invitation_id
    )
    services.revoke_invitation(invitation, actor=request.user)
    messages.success(request, f"Invitation of {invitation.email} withdrawn.")
    return redirect("deals:workspace-settings", org_slug=request.organization.slug)


def _signed_in_or_404(view):
    """The security log answers 404 to anonymous visitors too (no sign-in redirect): it
    confirms nothing about the workspace to anyone but its admins."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            raise Http404("Not found.")
        return view(request, *args, **kwargs)

    return wrapper


SECURITY_LOG_PAGE_SIZE = 50


def _security_log_filters(request) -> SecurityLogFilterForm:
    return SecurityLogFilterForm(request.GET, time_zone=request.organization.time_zone)


# Whether the workspace is one's own (404) is told before the method (405).
@_signed_in_or_404
@org_view(admin_only=True)
@require_safe
def security_log(request):
    """Settings → Security log: the workspace's entries, newest first, filtered, 50 a page.
    Invalid filters: the form with its messages (422) and no entries."""
    form = _security_log_filters(request)
    context = {
        "form": form,
        "retention_days": settings.SECURITY_LOG_RETENTION_DAYS,
        "nav": "settings",
    }
    if not form.is_valid():
        return render(request, "deals/security_log.html", {**context, "invalid": True}, status=422)
    events = form.apply_to(SecurityEvent.objects.for_org(request.organization))
    page = Paginator(events, SECURITY_LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    filters = request.GET.copy()
    filters.pop("page", None)
    context.update(page=page, filters=filters.urlencode(), filtered=any(form.cleaned_data.values()))
    template = "deals/security_log.html"
    if request.htmx and request.htmx.target == "security-log-results":
        template += "#security-log-results"
    return render(request, template, context)


SECURITY_LOG_COLUMNS = [
    "time",
    "kind",
    "event",
    "actor",
    "actor_email",
    "ip_address",
    "user_agent",
    "target",
    "summary",
    "details",
]


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a
    leading apostrophe: actors, targets and user agents are typed by people outside the
    workspace (buyers, visitors)."""
    return "'" + value if value[:1] in {"=", "+", "-", "@", "\t", "\r"} else value


class _Echo:
    def write(self, value):
        return value


# Whether the workspace is one's own (404) is told before the method (405).
@_signed_in_or_404
@org_view(admin_only=True)
@require_safe
def security_log_export(request):
    """The filtered entries as CSV, every column, streamed (one query, read in chunks).
    Invalid filters: 422 with what to correct, as text."""
    form = _security_log_filters(request)
    if not form.is_valid():
        problems = "; ".join(
            f"{form.fields[name].label if name in form.fields else 'Filters'}: " + " ".join(errors)
            for name, errors in form.errors.items()
        )
        return HttpResponse(
            f"Correct the filters before exporting. {problems}",
            status=422,
            content_type="text/plain; charset=utf-8",
        )
    organization = request.organization
    events = form.apply_to(SecurityEvent.objects.for_org(organization))
    # The rows are written after the view returns: the workspace's time zone is passed on,
    # not taken from the active one.
    zone = ZoneInfo(organization.time_zone)

    def rows():
        writer = csv.writer(_Echo())
        yield writer.writerow(SECURITY_LOG_COLUMNS)
        for event in events.iterator(chunk_size=1000):
            cells = [
                event.created_at.astimezone(zone).isoformat(),
                event.kind,
                event.get_kind_display(),
                event.actor,
                event.actor_email,
                event.ip_address or "",
                event.user_agent,
                event.target,
                event.summary,
                json.dumps(event.details, ensure_ascii=False, sort_keys=True),
            ]
            yield writer.writerow([spreadsheet_safe(str(cell)) for cell in cells])

    today = timezone.localdate()
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="tandem-{organization.slug}-security-log-{today.isoformat()}.csv"'
    )
    response["Cache-Control"] = "no-store"
    return response


def invitation_accept(request, token):
    """GET shows the invitation; POST accepts it (creating the account if needed)."""
    try:
        invitation = services.find_invitation(token)
    except services.InvitationError as exc:
        return render(request, "deals/invitation_invalid.html", {"reason": str(exc)}, status=410)

    existing_user = User.objects.filter(email__iexact=invitation.email).first()
    form = None
    if not request.user.is_authenticated and existing_user is None:
        form = AcceptInvitationForm(request.POST or None, email=invitation.email)

    if request.method == "POST":
        user = request.user if request.user.is_authenticated else None
        if user is None and form is not None and form.is_valid():
            with transaction.atomic():
                user = User.objects.create_user(
                    email=invitation.email,
                    password=form.cleaned_data["password1"],
                    full_name=form.cleaned_data["full_name"].strip(),
                )
                try:
                    membership = services.accept_invitation(token, user=user)
                except services.InvitationError as exc:
                    transaction.set_rollback(True)
                    return render(
                        request, "deals/invitation_invalid.html", {"reason": str(exc)}, status=410
                    )
            # allauth's adapter signs in, as for any other sign-in (and logs it).
            get_adapter(request).login(request, user)
            messages.success(request, f"Welcome to {membership.organization}.")
            return redirect(membership.organization.get_absolute_url())
        if user is not None:
            try:
                membership = services.accept_invitation(token, user=user)
            except services.InvitationError as exc:
                return render(
                    request, "deals/invitation_invalid.html", {"reason": str(exc)}, status=410
                )
            messages.success(request, f"You joined {membership.organization}.")
            return redirect(membership.organization.get_absolute_url())

    context = {
        "invitation": invitation,
        "form": form,
        "needs_sign_in": not request.user.is_authenticated and existing_user is not None,
        "wrong_account": request.user.is_authenticated
        and request.user.email.lower() != invitation.email.lower(),
    }
    return render(request, "deals/invitation_accept.html", context)


@cache_control(public=True, max_age=3600)
def brand_theme(request, org_id):
    """The workspace's accent colour as a stylesheet (no inline styles under our CSP)."""
    organization = get_object_or_404(Organization, public_id=org_id)
    accent = css_color(organization.accent_color)
    css = (
        f":root {{ --tandem-accent: {accent}; --pico-primary: {accent}; "
        f"--pico-primary-background: {accent}; --pico-primary-border: {accent}; }}\n"
    )
    return HttpResponse(css, content_type="text/css")


@cache_control(public=True, max_age=3600)
def brand_logo(request, org_id):
    """The workspace's logo, public (rooms and emails show it). Served as the image type
    its bytes are, never as anything a browser would run or open: logos stored before
    they were re-encoded (deals/images.py) and that are not PNG, JPEG or WebP are 404."""
    organization = get_object_or_404(Organization, public_id=org_id)
    if not organization.logo:
        raise Http404("No logo.")
    try:
        file = organization.logo.open("rb")
    except FileNotFoundError:
        raise Http404("No logo.") from None
    image_format = images.sniff_image_format(file.read(12))
    if image_format is None:
        file.close()
        raise Http404("No logo.")
    file.seek(0)
    response = FileResponse(file, content_type=images.CONTENT_TYPES[image_format])
    response["Content-Disposition"] = f"inline; filename=logo.{images.EXTENSIONS[image_format]}"
    response["X-Content-Type-Options"] = "nosniff"
    # Opened on its own, the image is inert: no scripts, no plugins, no styles, sandboxed.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
