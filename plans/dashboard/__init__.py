"""The manager dashboard: plan analytics over a workspace's deals.

metrics     each metric as one function (its docstring's first paragraph is its definition)
base        what metrics and summaries share: day thresholds, buyer visits, day arithmetic
summaries   per-plan summaries kept current by database triggers, recounted by beat
panels      the page's panels, built from the summaries with set-based queries
views       the page, its panels and its CSV exports
"""
