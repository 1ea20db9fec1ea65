"""The `ganstudio` command: serve, manage users and tokens, maintain the data dir."""

from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from ganstudio.cli_samples import samples_app
from ganstudio.config import Settings
from ganstudio.db.migrate import SchemaAheadError

app = typer.Typer(
    help="GAN Studio: shared test photos, filter versions, side-by-side review.",
    no_args_is_help=True,
)
users_app = typer.Typer(help="Accounts and API tokens.", no_args_is_help=True)
blobs_app = typer.Typer(help="The blob store.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(blobs_app, name="blobs")
app.add_typer(samples_app, name="samples")
err = Console(stderr=True)


def _build_app(settings: Settings):
    from ganstudio.app import create_app

    try:
        return create_app(settings)
    except SchemaAheadError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    demo: Annotated[bool, typer.Option(help="seed demo content and accounts first")] = False,
) -> None:
    """Start GAN Studio on the data dir from the settings."""
    settings = Settings(demo=True) if demo else Settings()
    web_app = _build_app(settings)
    console = Console()
    if demo:
        from ganstudio.demo import seed_demo

        with web_app.state.sessions() as session:
            accounts = seed_demo(session, settings)
            session.commit()
        table = Table(title="Demo accounts (sign in with any of these)")
        for column in ("name", "role", "password"):
            table.add_column(column)
        for account in accounts:
            table.add_row(account["name"], account["role"], account["password"])
        console.print(table)
    console.print(
        f"GAN Studio is at [bold]http://{host}:{port}/[/bold] "
        f"(data in {settings.resolved_data_dir}). Press Ctrl+C to stop."
    )
    if not demo:
        console.print("Create an account with `ganstudio users add NAME --role admin`.")
    uvicorn.run(web_app, host=host, port=port, log_level="info")


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="viewer, qa, developer or admin")] = "viewer",
    password: Annotated[str | None, typer.Option(help="generated and printed when omitted")] = None,
) -> None:
    """Create an account; prints the generated password unless one is given."""
    from ganstudio.services import users as users_service
    from ganstudio.services.errors import ServiceError

    web_app = _build_app(Settings())
    with web_app.state.sessions() as session:
        try:
            user, plain = users_service.create_user(
                session, name=name, role=role, password=password, actor=None
            )
        except ServiceError as exc:
            err.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(1) from None
        session.commit()
    if password:
        typer.echo(f"Created {user.name} ({user.role.value}).")
    else:
        typer.echo(f"Created {user.name} ({user.role.value}). Password: {plain}")


@users_app.command("token")
def users_token(
    name: str,
    label: Annotated[str, typer.Option(help="what the token is for")] = "cli",
) -> None:
    """Create an API token for NAME and print only the token (for scripts)."""
    from ganstudio.services import users as users_service
    from ganstudio.services.errors import ServiceError

    web_app = _build_app(Settings())
    with web_app.state.sessions() as session:
        try:
            user = users_service.get_user(session, name=name)
            _token, plaintext = users_service.create_token(
                session, user=user, label=label, actor=None
            )
        except ServiceError as exc:
            err.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(1) from None
        session.commit()
    typer.echo(plaintext)


@users_app.command("list")
def users_list() -> None:
    """List accounts."""
    from ganstudio.services import users as users_service

    web_app = _build_app(Settings())
    table = Table()
    for column in ("name", "role", "active", "last sign-in"):
        table.add_column(column)
    with web_app.state.sessions() as session:
        for user in users_service.list_users(session):
            last = (
                user.last_sign_in_at.isoformat(timespec="minutes") if user.last_sign_in_at else ""
            )
            table.add_row(user.name, user.role.value, "yes" if user.active else "no", last)
    Console().print(table)


@app.command("migrate")
def migrate() -> None:
    """Upgrade the database schema to this version (serve does this too)."""
    settings = Settings()
    _build_app(settings)
    typer.echo(f"Database at {settings.sqlalchemy_url} is up to date.")


@blobs_app.command("sweep")
def blobs_sweep() -> None:
    """Remove blobs no row names (older than the grace period) and say how much was freed."""
    from ganstudio.app import run_blob_sweep

    typer.echo(run_blob_sweep(_build_app(Settings())))


if __name__ == "__main__":
    app()
