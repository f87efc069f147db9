"""Forms of a lock for other tools and for output: PEP 751 pylock, requirements, conda explicit, JSON."""
