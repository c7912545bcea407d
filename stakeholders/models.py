"""Models of stakeholders (filled by later issues)."""
