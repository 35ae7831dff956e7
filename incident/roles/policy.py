"""Crisis roles: which exist, which are single-holder, which each severity needs. Pure."""
from __future__ import annotations

ROLES = {
    "commander": "Incident commander",
    "communications": "Communications lead",
    "scribe": "Scribe",
    "technical_lead": "Technical lead",
    "customer_liaison": "Customer liaison",
    "subject_matter_expert": "Subject-matter expert",
}
MULTI_HOLDER = frozenset({"subject_matter_expert"})

# What an incident of each severity should have staffed; the dashboard flags the gaps.
REQUIRED = {
    "SEV1": ("commander", "communications", "scribe", "technical_lead", "customer_liaison"),
    "SEV2": ("commander", "communications", "scribe", "technical_lead"),
    "SEV3": ("commander", "technical_lead"),
    "SEV4": ("commander",),
}


def is_multi_holder(role: str) -> bool:
    return role in MULTI_HOLDER


def required_roles(severity: str) -> tuple[str, ...]:
    return REQUIRED.get(severity, ("commander",))


def missing_roles(severity: str, held: set[str]) -> list[str]:
    """Required roles for this severity that nobody holds, in the usual order."""
    return [role for role in required_roles(severity) if role not in held]
