"""Models of notifications (filled by later issues)."""
