"""The manager dashboard: plan analytics over a workspace's deals.

metrics     the scope, the pipeline, MAP coverage, health and the forecast check: each metric
            one function (its docstring's first paragraph is its definition)
history     what happened: slips and their reasons, step durations, overdue by owner,
            outcomes; and the list of every metric of the page (its info tooltips)
base        what metrics and summaries share: day thresholds, buyer visits, day arithmetic
summaries   per-plan summaries kept current by database triggers, recounted by beat
triggers    those triggers (migrations hold frozen copies)
panels      the page's panels, built from the summaries with set-based queries
views       the page, its panels and its CSV exports
"""
