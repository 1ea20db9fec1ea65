"""Waking render workers on other machines at once: PostgreSQL's LISTEN/NOTIFY.

A route that queues work wakes the worker of its own process through an event, and, on
PostgreSQL, every other worker through `NOTIFY ganstudio_work`. Each serving worker listens on a
connection of its own. Without this, a worker on a GPU box would find a web test's render only at
its next look at the queue (every second): many times the forward pass it waits for.

A notification is only a hint. The workers still look at the queue every second, so one lost
while a listener reconnects (a database restart) costs at most that second; nothing is stored in
it, and a worker that missed it finds the work in the queue anyway.
"""

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from ganstudio.inference.errors import first_line

log = logging.getLogger(__name__)

CHANNEL = "ganstudio_work"
RECONNECT_MAX_SECONDS = 30.0
WAIT_SECONDS = 0.5  # how often the listener checks whether it should stop


def notify(engine: Engine) -> None:
    """Tell every listening worker that work was queued (committed before this call)."""
    if engine.dialect.name != "postgresql":
        return  # SQLite: every worker shares this machine, and looks at the queue often
    try:
        with engine.connect() as connection:
            connection.execute(text(f"NOTIFY {CHANNEL}"))
            connection.commit()
    except SQLAlchemyError as exc:  # a hint: the workers' next look finds the work anyway
        log.warning("Could not notify the render workers (%s)", first_line(str(exc)))


def listens(engine: Engine) -> bool:
    """Whether workers on `engine`'s database can be woken by notify()."""
    return engine.dialect.name == "postgresql"


def listen(engine: Engine, on_notify: Callable[[], None], done: threading.Event) -> None:
    """Call `on_notify` for each notification until `done` is set (run it on a thread of its
    own). A lost connection is opened again with a backoff; errors never end the loop."""
    import psycopg  # the PostgreSQL driver: only needed where the database is PostgreSQL

    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    backoff = 0.0
    while not done.is_set():
        try:
            with psycopg.connect(conninfo, autocommit=True) as connection:
                connection.execute(f"LISTEN {CHANNEL}")
                on_notify()  # work queued while it was not listening is in the queue now
                backoff = 0.0
                while not done.is_set():
                    for _notification in connection.notifies(timeout=WAIT_SECONDS):
                        on_notify()
        except psycopg.Error as exc:
            backoff = min(RECONNECT_MAX_SECONDS, max(1.0, backoff * 2))
            log.warning(
                "Render worker stopped listening for new work (%s); again in %.0f s",
                first_line(str(exc)),
                backoff,
            )
            done.wait(backoff)
