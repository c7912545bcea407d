"""Draft from a conversation: the seller pastes or uploads a transcript, call notes or an
email thread; the review lists what was found, each item with the sentence it came from,
a checkbox and its fields; accepting merges the chosen items (plans/drafting/apply.py).

Nothing is stored before the seller accepts: the review page carries the text back in its
form, and the items are drawn again from it (the extractor is deterministic). The text is
kept only if the seller ticks "Keep the conversation".
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from deals.tenancy import org_view

from .drafting import reading
from .drafting import review as drafting_review
from .models import Conversation, Plan
from .views import _plan, _refuse_if_archived


def _read_input(request) -> tuple[str, str]:
    """The conversation's text and its name, from the upload or the text box."""
    upload = request.FILES.get("file")
    if upload is not None:
        if upload.size > reading.MAX_BYTES:
            raise reading.Unreadable(
                f"The file is {upload.size / 1024:,.0f} KB; the limit is {reading.LIMIT}: "
                "split it and draft from each part."
            )
        text = reading.decode(upload.read())
        return reading.check(text), upload.name[:255]
    text = request.POST.get("text", "")
    return reading.check(text), request.POST.get("source", "")[:255] or "pasted text"


@org_view
def plan_draft(request, deal_id):
    """GET: paste or upload. POST: read it (the review), or `apply` the reviewed items."""
    plan = _plan(request, deal_id)
    base = {"plan": plan, "deal": plan.deal, "nav": "deals"}
    if request.method == "GET":
        return render(request, "plans/plan_draft.html", _form_context(plan, base))
    if refused := _refuse_if_archived(plan):
        return refused
    return read_and_review(request, plan, base)


def read_and_review(request, plan: Plan, base: dict):
    errors: dict[str, str] = {}
    call_date = drafting_review.parse_date(request.POST.get("call_date", "")) or None
    if call_date is None:
        errors["call_date"] = "Give the day of the call (dates said are counted from it)."
    try:
        text, source = _read_input(request)
    except reading.Unreadable as refused:
        errors["text"] = str(refused)
        text, source = "", ""
    if errors:
        context = _form_context(plan, base, errors=errors, text=request.POST.get("text", ""))
        return render(request, "plans/plan_draft.html", context, status=422)
    return drafting_review.review(
        request, plan, base, text=text, call_date=call_date, source=source
    )


def _form_context(plan, base, *, errors=None, text=""):
    return {
        **base,
        "errors": errors or {},
        "text": text,
        "today": drafting_review.today_of(plan),
        "kept": Conversation.objects.filter(plan=plan).only(
            "public_id", "source", "call_date", "created_at"
        ),
    }


@org_view
def conversation_detail(request, conversation_id):
    """A kept conversation, for the sellers of its workspace; POST deletes it."""
    conversation = get_object_or_404(
        Conversation.objects.for_org(request.organization).select_related("plan", "plan__deal"),
        public_id=conversation_id,
    )
    if request.method == "POST":
        conversation.delete()
        messages.success(request, "The conversation is deleted.")
        return redirect(conversation.plan.get_absolute_url())
    context = {
        "conversation": conversation,
        "plan": conversation.plan,
        "deal": conversation.plan.deal,
        "nav": "deals",
    }
    return render(request, "plans/conversation_detail.html", context)
