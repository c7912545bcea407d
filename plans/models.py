"""Models of plans (filled by later issues)."""
