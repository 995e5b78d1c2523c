"""(filled by the layers issue)."""

__all__: list[str] = []
