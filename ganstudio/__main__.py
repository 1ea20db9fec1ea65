"""`python -m ganstudio` runs the CLI."""

from ganstudio.cli import app

app(prog_name="ganstudio")
