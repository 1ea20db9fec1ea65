"""Words for people, written once: a count with its noun ("1 vote", "3 votes")."""


def plural(count: int | None, singular: str, plural: str | None = None) -> str:
    """Return "1 vote", "3 votes", "2 matches" (the plural defaults to singular + "s")."""
    count = count or 0
    word = singular if count == 1 else (plural or f"{singular}s")
    return f"{count} {word}"
