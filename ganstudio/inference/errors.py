"""Turn an exception a network raised into the one line a person needs to read."""


def describe_error(exc: BaseException) -> str:
    """Return the line of an error that says what went wrong (at most 300 characters)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return exc.__class__.__name__
    # TorchScript wraps the network's own error: its last line is the one that explains.
    line = lines[-1] if "TorchScript interpreter" in lines[0] else lines[0]
    return f"{exc.__class__.__name__}: {line[:300]}"


def first_line(text: str) -> str:
    """Return the first line of a message the code wrote for people (at most 500 characters)."""
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return first[:500]
