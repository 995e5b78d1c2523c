"""Layer classes, one family per module."""
