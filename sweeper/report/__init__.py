"""What a sweep found, for people: ranked tables, plots, the exported file, comparisons."""

__all__: list[str] = []
