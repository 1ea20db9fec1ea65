"""The README's settings table states the defaults the code really has."""

import re
from pathlib import Path

from ganstudio.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"
UNITS = {"MiB": 1024**2, "GiB": 1024**3}
ROW = re.compile(r"^\| (`GANSTUDIO_[A-Z_]+`(?: / `GANSTUDIO_[A-Z_]+`)*) \| ([^|]+) \|", re.M)
NUMBER = re.compile(r"^([0-9][0-9,]*)(?: (MiB|GiB))?$")


def _stated_defaults() -> dict[str, int]:
    """Return setting name → the README's number, for rows whose default is a plain number."""
    stated = {}
    for names, values in ROW.findall(README.read_text()):
        for name, value in zip(names.split(" / "), values.strip().split(" / "), strict=False):
            match = NUMBER.match(value.strip())
            if match:
                number = int(match.group(1).replace(",", ""))
                stated[name.strip("`").removeprefix("GANSTUDIO_").lower()] = number * UNITS.get(
                    match.group(2) or "", 1
                )
    return stated


def test_readme_numeric_defaults_match_the_settings() -> None:
    stated = _stated_defaults()
    assert "max_upload_bytes" in stated and "max_image_bytes" in stated  # the table was read
    fields = Settings.model_fields
    wrong = {
        name: (number, fields[name].default)
        for name, number in stated.items()
        if fields[name].default != number
    }
    assert not wrong, f"README default ≠ code default (README, code): {wrong}"
