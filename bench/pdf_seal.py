"""Benchmark: render + seal the PDF of a 40-milestone signed plan (median of N, warm).

    .venv/bin/python bench/pdf_seal.py --runs 15            # SQLite in memory by default
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tandem_bench .venv/bin/python bench/pdf_seal.py

Not a test: run it by hand and copy the figures into the README.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from deals.models import Membership, Organization, User
    from plans import evidence
    from plans.models import Milestone
    from plans.signing import pdf, seal
    from tests.factories import add_buyer, make_deal, make_plan

    organization, _ = Organization.objects.get_or_create(
        slug="bench-pdf", defaults={"name": "Bench"}
    )
    user = User.objects.create_user(email=f"pdf{time.time()}@bench.test", full_name="Bench Seller")
    Membership.objects.create(organization=organization, user=user, role="admin")
    deal = make_deal(organization, user)
    buyer = add_buyer(deal, name="Eve Economic", email="eve@bench.test", role="economic_buyer")
    plan = make_plan(deal, template="Enterprise (12 steps)")
    for i in range(40 - plan.milestones.count()):
        Milestone.objects.create(
            organization=organization,
            plan=plan,
            title=f"Additional step {i + 1}",
            position=20 + i,
            buyer_owner=buyer,
            due_date=plan.target_signature_date,
            baseline_date=plan.target_signature_date,
        )
    assert plan.milestones.count() == 40
    content = evidence.canonical_content(plan)
    digest = evidence.digest_of(content)
    workspace_seal = seal.seal_for(organization)

    def once():
        data = pdf.render_plan_pdf(
            plan,
            version=plan.version,
            content=content,
            content_hash=digest,
            reference="TDM-BENCH-V1",
            signed=True,
        )
        return pdf.seal_pdf(data, workspace_seal, reason="benchmark")

    started = time.perf_counter()
    once()  # warm-up: imports WeasyPrint and pyHanko, loads fonts
    print(f"first run (imports, fonts): {time.perf_counter() - started:.2f} s")
    timings = []
    for _ in range(args.runs):
        started = time.perf_counter()
        data = once()
        timings.append(time.perf_counter() - started)
    verified = pdf.verify_pdf(data)
    median = statistics.median(timings) * 1000
    print(
        f"render + seal, 40 milestones, {args.runs} runs: median {median:.0f} ms, "
        f"min {min(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms; "
        f"{len(data) / 1024:.0f} KB; seal valid: {verified.valid}"
    )


if __name__ == "__main__":
    main()
