"""(to be filled)."""
