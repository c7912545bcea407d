"""The built-in templates: steps with phase, default duration (business days), default
owner roles (buyer, seller), high-risk category and the signature step.

Installed by a data migration as templates without a workspace (shared, read-only).
"""

CLOSE, POST = "close", "post"

BUILTIN_TEMPLATES = [
    {
        "name": "SMB (5 steps)",
        "description": "A short plan for a small deal: scope, proposal, legal, signature, kickoff.",
        "steps": [
            ("Scope confirmation", CLOSE, 3, "champion", "ae", "", False),
            ("Proposal review", CLOSE, 5, "economic_buyer", "ae", "", False),
            ("Legal review", CLOSE, 5, "legal_reviewer", "seller_legal", "legal", False),
            ("Signature", CLOSE, 1, "economic_buyer", "ae", "executive", True),
            ("Kickoff", POST, 2, "champion", "csm", "", False),
        ],
    },
    {
        "name": "Core (8 steps)",
        "description": "The core close plan from business case to kickoff.",
        "steps": [
            ("Align on business case and ROI model", CLOSE, 5, "champion", "ae", "", False),
            ("Complete security review", CLOSE, 10, "security_reviewer", "se", "security", False),
            (
                "Deliver security questionnaire responses",
                CLOSE,
                5,
                "security_reviewer",
                "se",
                "security",
                False,
            ),
            ("Legal redline MSA", CLOSE, 10, "legal_reviewer", "seller_legal", "legal", False),
            ("Final commercial review", CLOSE, 3, "economic_buyer", "ae", "", False),
            ("Procurement PO issuance", CLOSE, 7, "procurement", "ae", "procurement", False),
            ("Contract execution", CLOSE, 2, "economic_buyer", "ae", "executive", True),
            ("Kickoff scheduled", POST, 3, "champion", "csm", "", False),
        ],
    },
    {
        "name": "Enterprise (12 steps)",
        "description": "A complete enterprise plan with security, procurement and legal steps.",
        "steps": [
            ("Technical validation", CLOSE, 10, "technical_evaluator", "se", "", False),
            ("Economic buyer alignment call", CLOSE, 1, "economic_buyer", "ae", "executive", False),
            (
                "Business case review with the economic buyer",
                CLOSE,
                3,
                "economic_buyer",
                "ae",
                "",
                False,
            ),
            ("Security questionnaire sent", CLOSE, 1, "security_reviewer", "se", "security", False),
            (
                "Security questionnaire returned",
                CLOSE,
                10,
                "security_reviewer",
                "se",
                "security",
                False,
            ),
            (
                "Vendor onboarding form submitted",
                CLOSE,
                5,
                "procurement",
                "ae",
                "procurement",
                False,
            ),
            ("Vendor code created", CLOSE, 5, "procurement", "ae", "procurement", False),
            ("MSA/DPA exchanged", CLOSE, 2, "legal_reviewer", "seller_legal", "legal", False),
            (
                "Legal redlines complete",
                CLOSE,
                10,
                "legal_reviewer",
                "seller_legal",
                "legal",
                False,
            ),
            ("Finance approval and PO", CLOSE, 7, "economic_buyer", "ae", "procurement", False),
            ("Signature", CLOSE, 1, "economic_buyer", "ae", "executive", True),
            ("Kickoff and first-value milestone", POST, 10, "champion", "csm", "", False),
        ],
    },
]


def install(plan_template_model, template_step_model) -> None:
    """Create or refresh the built-in templates (idempotent; used by the data migration)."""
    for spec in BUILTIN_TEMPLATES:
        template, _ = plan_template_model.objects.update_or_create(
            organization=None, name=spec["name"], defaults={"description": spec["description"]}
        )
        template.steps.all().delete()
        template_step_model.objects.bulk_create(
            template_step_model(
                template=template,
                position=position,
                title=title,
                phase=phase,
                duration_days=duration,
                buyer_role=buyer_role,
                seller_role=seller_role,
                risk=risk,
                is_signature_step=is_signature,
            )
            for position, (title, phase, duration, buyer_role, seller_role, risk, is_signature) in (
                enumerate(spec["steps"], start=1)
            )
        )
