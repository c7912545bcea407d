"""The manager dashboard page and its CSV exports. The metrics live in plans/dashboard/metrics.py;
this module picks the scope from the request, and shapes tables, charts and CSV files."""

from __future__ import annotations

import csv
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from deals.tenancy import org_view
from plans import materials
from plans.forms import DashboardFilterForm

from . import history, metrics, panels

TEMPLATE = "plans/dashboard.html"
HEALTH_LIMIT = 25
FORECAST_LIMIT = 25
OWNER_LIMIT = 15

COLORS = {
    "blue": "#1f6feb",
    "grey": "#8c959f",
    "green": "#1a7f37",
    "amber": "#d4a72c",
    "red": "#cf222e",
    "purple": "#8250df",
}


@org_view
def dashboard(request):
    """Pipeline, MAP health, forecast, slips, overdue steps and outcomes. Managers and
    admins see the whole workspace; sellers see their own deals. `?export=<table>` answers
    the same filters as a CSV file."""
    organization, membership = request.organization, request.membership
    now = timezone.now()
    today = timezone.localtime(now, ZoneInfo(organization.time_zone)).date()
    form = DashboardFilterForm(
        request.GET or None,
        organization=organization,
        today=today,
        show_owner=membership.is_manager,
    )
    export = request.GET.get("export", "")
    if export and export not in EXPORTS:
        return HttpResponse(
            f"There is no table “{export}” to export. Tables: {', '.join(EXPORTS)}.",
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    if form.is_bound and not form.is_valid():
        if export:
            problems = "; ".join(
                f"{form.fields[name].label if name in form.fields else 'Filters'}: "
                + " ".join(errors)
                for name, errors in form.errors.items()
            )
            return HttpResponse(
                f"Correct the filters before exporting. {problems}",
                status=422,
                content_type="text/plain; charset=utf-8",
            )
        context = {"form": form, "invalid": True, "nav": "dashboard", **_scope_text(request)}
        return render(request, TEMPLATE, context, status=422)
    scope = _scope(request, form, now)
    if export:
        metrics.refresh_summaries(scope)  # in short transactions of their own
        with metrics.analytics():
            return _csv_response(request, scope, export)
    sort = _sort(request)
    page = _page(
        panels.compute(
            scope,
            sort=sort,
            health_limit=HEALTH_LIMIT,
            forecast_limit=FORECAST_LIMIT,
            owner_limit=OWNER_LIMIT,
        )
    )
    _add_engagement(page["health_rows"], now=scope.now)
    return render(request, TEMPLATE, _context(request, form, scope, page))


ENGAGEMENT_DAYS = 14


def _add_engagement(rows, *, now) -> None:
    """The engagement column: each row's openings of its plan's materials in the last
    ENGAGEMENT_DAYS (`row.engagement`: opens, people; None without any). One query."""
    since = now - timedelta(days=ENGAGEMENT_DAYS)
    figures = materials.recent_engagement([row.deal.plan_id for row in rows], since=since)
    for row in rows:
        row.engagement = figures.get(row.deal.plan_id)


def _scope(request, form: DashboardFilterForm, now) -> metrics.Scope:
    data = form.cleaned_data if form.is_bound else {}
    close_from, close_to = form.close_range() if form.is_bound else (None, None)
    owner = data.get("owner") if request.membership.is_manager else request.user
    return metrics.Scope.build(
        request.organization,
        owner=owner,
        stage=data.get("stage", ""),
        close_from=close_from,
        close_to=close_to,
        amount_min=data.get("amount_min"),
        amount_max=data.get("amount_max"),
        now=now,
    )


def _scope_text(request) -> dict:
    if request.membership.is_manager:
        return {"scope_label": f"Every deal of {request.organization.name}"}
    return {"scope_label": "Your deals (managers see the whole workspace)"}


def _page(results: panels.PageResults) -> dict:
    """What the page shows of a scope's figures."""
    by_stage, by_month = results.by_stage, results.by_month
    health, forecast, overdue = results.health, results.forecast, results.overdue
    durations, outcomes = results.durations, results.outcomes
    currency = metrics.main_currency(*(row.amounts for row in by_stage))
    return {
        "computed_at": results.computed_at,
        "currency": currency,
        "pipeline": {
            "by_stage": by_stage,
            "by_month": by_month,
            "count": sum(row.count for row in by_stage),
            "amounts": _total(row.amounts for row in by_stage),
        },
        "coverage": results.coverage,
        "health": health,
        "health_rows": health.rows,
        "forecast": forecast,
        "forecast_rows": forecast.rows,
        "slips": results.slips,
        "reasons": results.reasons,
        "durations": durations,
        "overdue": overdue,
        "overdue_rows": overdue.rows,
        "outcomes": outcomes,
        "charts": _charts(
            currency,
            by_stage=by_stage,
            by_month=by_month,
            health=health,
            forecast=forecast,
            durations=durations,
            overdue=overdue,
            outcomes=outcomes,
        ),
    }


def _sort(request) -> str:
    sort = request.GET.get("sort", "health")
    return sort if sort.lstrip("-") in metrics.HEALTH_SORTS else "health"


def _context(request, form, scope: metrics.Scope, page: dict) -> dict:
    sort = _sort(request)
    return {
        **page,
        "form": form,
        "nav": "dashboard",
        **_scope_text(request),
        "today": scope.today,
        "as_of": timezone.localtime(page["computed_at"], scope.tz),
        "definitions": history.definitions(),
        "health_columns": _sort_columns(sort),
        "plan_url": reverse(
            "plans:plan-detail",
            kwargs={"org_slug": request.organization.slug, "deal_id": PLACEHOLDER},
        ),
        "limits": {"health": HEALTH_LIMIT, "forecast": FORECAST_LIMIT, "owners": OWNER_LIMIT},
    }


def _total(groups) -> metrics.Amounts:
    total = metrics.Amounts()
    for amounts in groups:
        for currency, amount in amounts.items():
            total.add(currency, amount)
    return total


HEALTH_COLUMNS = [
    ("deal", "Deal"),
    ("owner", "Owner"),
    ("amount", "Amount"),
    ("close", "Target close"),
    ("health", "Health"),
    ("overdue", "Overdue steps"),
    ("changes", "Date changes (14 days)"),
    ("visit", "Last buyer visit"),
]


def _sort_columns(sort: str) -> list[dict]:
    """Header links of the health table: each sorts by its column, again to reverse."""
    current = sort.lstrip("-") if sort.lstrip("-") in metrics.HEALTH_SORTS else "health"
    reversed_ = sort.startswith("-") and current == sort.lstrip("-")
    columns = []
    for key, label in HEALTH_COLUMNS:
        active = key == current
        descending = (key in metrics.HEALTH_DEFAULT_DESC) != (active and reversed_)
        columns.append(
            {
                "key": key,
                "label": label,
                "sort": f"-{key}" if active and not reversed_ else key,
                "aria_sort": ("descending" if descending else "ascending") if active else "",
            }
        )
    return columns


# --- Charts: Chart.js configurations, plain JSON (static/js/dashboard.js draws them) --


def _bar(labels, datasets, *, horizontal=False, counts=False, two_axes=False) -> dict:
    options: dict = {"responsive": True, "maintainAspectRatio": False, "animation": False}
    if horizontal:
        options["indexAxis"] = "y"
    if counts:
        options["scales"] = {"y": {"beginAtZero": True, "ticks": {"precision": 0}}}
    if two_axes:
        options["scales"] = {
            "count": {
                "type": "linear",
                "position": "left",
                "beginAtZero": True,
                "ticks": {"precision": 0},
            },
            "amount": {
                "type": "linear",
                "position": "right",
                "beginAtZero": True,
                "grid": {"drawOnChartArea": False},
            },
        }
    return {"type": "bar", "data": {"labels": labels, "datasets": datasets}, "options": options}


def _charts(currency, *, by_stage, by_month, health, forecast, durations, overdue, outcomes):
    def pipeline(rows):
        return _bar(
            [row.label for row in rows],
            [
                {
                    "label": "Deals",
                    "data": [row.count for row in rows],
                    "yAxisID": "count",
                    "backgroundColor": COLORS["grey"],
                },
                {
                    "label": f"Amount ({currency})",
                    "data": [float(row.amounts.main(currency)) for row in rows],
                    "yAxisID": "amount",
                    "backgroundColor": COLORS["blue"],
                },
            ],
            two_axes=True,
        )

    levels = list(metrics.LEVEL_LABELS)
    return {
        "pipeline-stage": pipeline(by_stage),
        "pipeline-month": pipeline(by_month),
        "health": {
            "type": "doughnut",
            "data": {
                "labels": [metrics.LEVEL_LABELS[level] for level in levels],
                "datasets": [
                    {
                        "label": "Deals",
                        "data": [health.counts[level] for level in levels],
                        "backgroundColor": [COLORS["green"], COLORS["amber"], COLORS["red"]],
                    }
                ],
            },
            "options": {"responsive": True, "maintainAspectRatio": False, "animation": False},
        },
        "forecast": _bar(
            [month.label for month in forecast.months],
            [
                {
                    "label": f"Committed ({currency})",
                    "data": [float(m.committed.main(currency)) for m in forecast.months],
                    "backgroundColor": COLORS["grey"],
                },
                {
                    "label": f"Projected ({currency})",
                    "data": [float(m.projected.main(currency)) for m in forecast.months],
                    "backgroundColor": COLORS["blue"],
                },
            ],
        ),
        "durations": _bar(
            [row.title for row in durations],
            [
                {
                    "label": "Planned (business days)",
                    "data": [row.planned for row in durations],
                    "backgroundColor": COLORS["grey"],
                },
                {
                    "label": "Actual (business days)",
                    "data": [row.actual for row in durations],
                    "backgroundColor": COLORS["amber"],
                },
            ],
            horizontal=True,
        ),
        "overdue": _bar(
            ["Buyer side", "Seller side"],
            [
                {
                    "label": "Overdue steps with an owner on this side",
                    "data": [overdue.buyer_side, overdue.seller_side],
                    "backgroundColor": [COLORS["purple"], COLORS["blue"]],
                }
            ],
            counts=True,
        ),
        "outcomes": _bar(
            [row.label for row in outcomes],
            [
                {
                    "label": "Win rate (%)",
                    "data": [
                        round(row.win_rate * 100, 1) if row.win_rate is not None else None
                        for row in outcomes
                    ],
                    "backgroundColor": COLORS["green"],
                },
                {
                    "label": "Won on or before the original target (%)",
                    "data": [
                        round(row.on_time_share * 100, 1) if row.on_time_share is not None else None
                        for row in outcomes
                    ],
                    "backgroundColor": COLORS["blue"],
                },
            ],
        ),
    }


# --- CSV exports ---------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


def _plan_url_pattern(request, scope) -> str:
    """The absolute address of a plan page with PLACEHOLDER for the deal (one reverse for
    thousands of rows)."""
    return request.build_absolute_uri(
        reverse(
            "plans:plan-detail",
            kwargs={"org_slug": scope.organization.slug, "deal_id": PLACEHOLDER},
        )
    )


def _export_pipeline(rows, key_label):
    yield [key_label, "deals", "currency", "amount"]
    for row in rows:
        key = row.key.isoformat()[:7] if hasattr(row.key, "isoformat") else row.label
        if not row.amounts:
            yield [key, row.count, "", ""]
        for currency, amount in sorted(row.amounts.items()):
            yield [key, row.count, currency, amount]


def _export_health(request, scope):
    yield [
        "account",
        "opportunity",
        "owner",
        "stage",
        "amount",
        "currency",
        "target close date",
        "target signature date",
        "plan status",
        "health",
        "reasons",
        "overdue steps",
        "overdue steps with a buyer owner",
        "close-plan steps overdue more than 7 days",
        "date changes in 14 days",
        "last buyer visit",
        f"materials opened in {ENGAGEMENT_DAYS} days",
        f"people who opened materials in {ENGAGEMENT_DAYS} days",
        "close-plan steps without a buyer owner",
        "steps without a date",
        "plan",
    ]
    report = metrics.map_health(scope)
    url = _plan_url_pattern(request, scope)
    _add_engagement(report.rows, now=scope.now)
    for row in metrics.sort_health(report.rows, request.GET.get("sort", "health")):
        deal = row.deal
        engagement = row.engagement or {"opens": 0, "people": 0}
        yield [
            deal.account,
            deal.name,
            deal.owner,
            deal.stage_label,
            deal.amount,
            deal.currency,
            deal.target_close,
            row.target_signature,
            row.plan_status,
            row.label,
            "; ".join(row.reasons),
            row.overdue,
            row.overdue_buyer,
            row.late_close,
            row.recent_changes,
            row.last_buyer_visit.isoformat(timespec="minutes") if row.last_buyer_visit else "",
            engagement["opens"],
            engagement["people"],
            row.missing_buyer_owner,
            row.undated,
            url.replace(PLACEHOLDER, str(deal.deal_id)),
        ]


def _export_forecast(request, scope):
    yield [
        "account",
        "opportunity",
        "owner",
        "amount",
        "currency",
        "target close date",
        "projected signature date",
        "gap (days)",
        "forecast risk",
        "steps left to signature",
    ]
    for row in metrics.forecast_check(scope).rows:
        deal = row.deal
        yield [
            deal.account,
            deal.name,
            deal.owner,
            deal.amount,
            deal.currency,
            deal.target_close,
            row.projected,
            row.gap_days,
            "yes" if row.at_risk else "no",
            row.remaining_steps,
        ]


def _export_forecast_months(request, scope):
    yield ["month", "currency", "committed deals", "committed", "projected deals", "projected"]
    for month in metrics.forecast_check(scope).months:
        currencies = sorted(set(month.committed) | set(month.projected)) or [""]
        for currency in currencies:
            yield [
                month.month.isoformat()[:7],
                currency,
                month.committed_count,
                month.committed.get(currency, 0),
                month.projected_count,
                month.projected.get(currency, 0),
            ]


def _export_coverage(request, scope):
    coverage = metrics.map_coverage(scope)
    yield [
        "threshold",
        "open deals at or above it",
        "with a plan",
        "with a plan (%)",
        "with a shared plan",
        "with a shared plan (%)",
    ]
    yield [
        coverage.threshold,
        coverage.eligible,
        coverage.with_plan,
        _pct(coverage.plan_share),
        coverage.with_shared_plan,
        _pct(coverage.shared_share),
    ]


def _export_slips(request, scope):
    slips = history.slip_summary(scope)
    yield ["dated steps", "slipped steps", "slip rate (%)", "total slip days"]
    yield [slips.dated, slips.slipped, _pct(slips.rate), slips.slip_days]


def _export_reasons(request, scope):
    yield ["reason", "date moves", "days added"]
    for row in history.slip_reasons(scope, limit=None):
        yield [row.reason, row.count, row.days]


def _export_durations(request, scope):
    yield [
        "step",
        "steps",
        "done",
        "slipped",
        "slip rate (%)",
        "planned (business days, done steps)",
        "actual (business days, done steps)",
        "overrun (business days)",
    ]
    for row in history.step_durations(scope, limit=None):
        yield [
            row.title,
            row.steps,
            row.done,
            row.slipped,
            _pct(row.slip_rate),
            _num(row.planned),
            _num(row.actual),
            _num(row.overrun),
        ]


def _export_overdue(request, scope):
    yield ["side", "owner", "account", "overdue steps", "oldest due date", "days overdue"]
    for row in history.overdue_by_owner(scope).rows:
        yield [
            row.side_label,
            row.owner,
            row.account,
            row.overdue,
            row.oldest_due,
            row.days_overdue,
        ]


def _export_outcomes(request, scope):
    yield [
        "group",
        "closed deals",
        "won",
        "lost",
        "win rate (%)",
        "median cycle (days)",
        "won with a closed date",
        "won on or before the original target",
        "on time (%)",
    ]
    for row in history.outcomes(scope):
        yield [
            row.label,
            row.closed,
            row.won,
            row.lost,
            _pct(row.win_rate),
            _num(row.median_cycle),
            row.won_dated,
            row.won_on_time,
            _pct(row.on_time_share),
        ]


EXPORTS = {
    "pipeline-stage": lambda request, scope: _export_pipeline(
        metrics.pipeline_by_stage(scope), "stage"
    ),
    "pipeline-month": lambda request, scope: _export_pipeline(
        metrics.pipeline_by_month(scope), "target close month"
    ),
    "coverage": _export_coverage,
    "health": _export_health,
    "forecast": _export_forecast,
    "forecast-months": _export_forecast_months,
    "slips": _export_slips,
    "slip-reasons": _export_reasons,
    "step-durations": _export_durations,
    "overdue-owners": _export_overdue,
    "outcomes": _export_outcomes,
}


def _cell(value):
    """Text a spreadsheet would run as a formula (=, +, -, @, tab, CR) gets a leading
    apostrophe: reasons and step titles are typed by users, buyers included. Numbers
    (formatted ones too, such as "-2.5") are left alone."""
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def _csv_response(request, scope: metrics.Scope, table: str) -> HttpResponse:
    filename = f"tandem-{scope.organization.slug}-{table}-{scope.today.isoformat()}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    for row in EXPORTS[table](request, scope):
        writer.writerow([_cell(value) for value in row])
    return response
