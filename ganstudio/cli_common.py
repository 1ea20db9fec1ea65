"""What every CLI module shares: the error console and opening the data dir for a command.

Its own module so that command modules (`cli_samples`) need not import `cli`, which imports them.
"""

import typer
from rich.console import Console

from ganstudio.config import SecretKeyError, Settings
from ganstudio.db.migrate import SchemaAheadError
from ganstudio.runtime import Runtime, open_runtime
from ganstudio.storage.blobs import BlobStoreConfigError, BlobStoreUnavailableError

err = Console(stderr=True)


def open_cli_runtime(settings: Settings | None = None) -> Runtime:
    """Open the data dir for a command (database migrated, blobs); no web app is built."""
    try:
        return open_runtime(settings or Settings())
    except (
        SchemaAheadError,
        SecretKeyError,
        BlobStoreConfigError,
        BlobStoreUnavailableError,
    ) as exc:
        err.print(f"[red]{exc}[/red]", markup=True, highlight=False)
        raise typer.Exit(2) from None
