"""Sign-in throttle: atomic reservations, per name and address, a hashing cap, bounded memory."""

import threading
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ganstudio.services import users as users_service
from ganstudio.services.errors import BusyError, TooManyAttemptsError
from ganstudio.services.throttle import (
    FREE_ATTEMPTS,
    FREE_ATTEMPTS_PER_ADDRESS,
    FREE_ATTEMPTS_PER_NAME,
    SignInThrottle,
)
from ganstudio.services.users import SignInError
from tests.conftest import csrf_from
from tests.factories import PASSWORD, make_user


def fail(throttle: SignInThrottle, name: str, address: str, times: int = 1) -> None:
    for _ in range(times):
        throttle.reserve(name=name, address=address)  # never proven right: a failure


def the_wait_doubles_and_a_right_password_forgets_the_pair(
    throttle: SignInThrottle, now: list[float]
) -> None:
    """The rule every throttle keeps, in memory or in the database (`now` is its clock)."""
    fail(throttle, "Bob", "10.0.0.1", FREE_ATTEMPTS)
    with pytest.raises(TooManyAttemptsError) as first:
        throttle.reserve(name="bob", address="10.0.0.1")
    now[0] += first.value.retry_after
    fail(throttle, "bob", "10.0.0.1")
    with pytest.raises(TooManyAttemptsError) as second:
        throttle.reserve(name="BOB", address="10.0.0.1")
    assert second.value.retry_after == 2 * first.value.retry_after
    now[0] += second.value.retry_after
    throttle.reserve(name="bob", address="10.0.0.1").succeeded()
    fail(throttle, "bob", "10.0.0.1", FREE_ATTEMPTS)  # free attempts again


def test_the_wait_doubles_and_a_right_password_forgets_the_pair() -> None:
    now = [1000.0]
    the_wait_doubles_and_a_right_password_forgets_the_pair(
        SignInThrottle(clock=lambda: now[0]), now
    )


def count_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the password checks that really run (argon2 is the expensive part)."""
    checked: list[str] = []
    real_verify = users_service.verify_password

    def counting_verify(password_hash: str | None, password: str) -> bool:
        checked.append(password)
        return real_verify(password_hash, password)

    monkeypatch.setattr(users_service, "verify_password", counting_verify)
    return checked


def run_in_threads(count: int, attempt: Callable[[int], None]) -> list[BaseException]:
    """Run `attempt(i)` in `count` threads released at once; return what they raised."""
    start = threading.Barrier(count)
    raised: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        try:
            attempt(i)
        except Exception as exc:
            raised.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return raised


def test_parallel_wrong_passwords_get_only_the_free_checks(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(app, name="alice")
    checked = count_checks(monkeypatch)
    throttle = SignInThrottle(max_concurrent_checks=30)

    def attempt(i: int) -> None:
        with app.state.sessions() as db:
            users_service.authenticate(
                db, name="alice", password=f"guess {i}", address="198.51.100.7", throttle=throttle
            )

    raised = run_in_threads(30, attempt)
    assert 1 <= len(checked) <= FREE_ATTEMPTS
    assert len(raised) == 30
    assert sum(isinstance(exc, TooManyAttemptsError) for exc in raised) >= 30 - FREE_ATTEMPTS


def test_a_flood_from_one_address_does_not_lock_out_another(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(app, name="alice")
    checked = count_checks(monkeypatch)
    throttle = SignInThrottle()
    with app.state.sessions() as db:
        for i in range(200):
            with pytest.raises((SignInError, TooManyAttemptsError)):
                users_service.authenticate(
                    db,
                    name="alice",
                    password=f"guess {i}",
                    address="203.0.113.66",
                    throttle=throttle,
                )
        assert len(checked) == FREE_ATTEMPTS
        user = users_service.authenticate(
            db, name="alice", password=PASSWORD, address="192.0.2.10", throttle=throttle
        )
        assert user.name == "alice"


def test_many_addresses_together_hold_back_only_those_that_failed() -> None:
    throttle = SignInThrottle()
    for i in range(FREE_ATTEMPTS_PER_NAME + 20):  # a wide flood: one guess per address
        fail(throttle, "admin", f"10.1.{i // 256}.{i % 256}")
    with pytest.raises(TooManyAttemptsError, match="several places"):
        throttle.reserve(name="admin", address="10.1.0.3")  # failed once already
    throttle.reserve(name="admin", address="192.0.2.10").succeeded()  # the owner, elsewhere


def test_one_address_trying_many_names_is_held_back() -> None:
    throttle = SignInThrottle()
    for i in range(FREE_ATTEMPTS_PER_ADDRESS):
        fail(throttle, f"user{i}", "203.0.113.5")
    with pytest.raises(TooManyAttemptsError, match="network address"):
        throttle.reserve(name="someone-new", address="203.0.113.5")
    throttle.reserve(name="someone-new", address="203.0.113.6").succeeded()


def test_the_table_stays_bounded() -> None:
    throttle = SignInThrottle(max_entries=1000)
    for i in range(100_000):
        fail(throttle, f"made-up-{i}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(throttle) <= 3 * 1000


def test_password_checks_are_capped_and_the_rest_refused_as_busy(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(app, name="alice")
    release = threading.Event()
    lock = threading.Lock()
    in_flight = [0, 0]  # now, most at once
    refused = threading.Semaphore(0)

    def slow_verify(password_hash: str | None, password: str) -> bool:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
        release.wait()
        with lock:
            in_flight[0] -= 1
        return False

    monkeypatch.setattr(users_service, "verify_password", slow_verify)
    throttle = SignInThrottle(max_concurrent_checks=2, slot_wait_seconds=0)
    raised: list[BaseException] = []

    def attempt(i: int) -> None:
        with app.state.sessions() as db:
            try:
                users_service.authenticate(
                    db, name=f"user{i}", password="x", address=f"10.0.0.{i}", throttle=throttle
                )
            except BusyError as exc:
                raised.append(exc)
                refused.release()
            except SignInError:
                pass

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for _ in range(6):  # two hold the slots until released; the other six are refused
        assert refused.acquire(timeout=60)
    release.set()
    for thread in threads:
        thread.join()
    assert in_flight[1] == 2
    assert len(raised) == 6 and all(exc.retry_after >= 1 for exc in raised)
    throttle.reserve(name="user0", address="10.0.0.0")  # busy refusals were not counted


def test_sign_in_page_says_busy_with_retry_after(client: TestClient, app: FastAPI) -> None:
    make_user(app, name="alice")
    app.state.throttle = SignInThrottle(max_concurrent_checks=1, slot_wait_seconds=0)
    csrf = csrf_from(client.get("/login").text)
    with app.state.throttle.checking_slot():  # someone else's check holds the only slot
        for _ in range(FREE_ATTEMPTS + 3):
            response = client.post(
                "/login", data={"name": "alice", "password": PASSWORD, "csrf_token": csrf}
            )
            assert response.status_code == 503
            assert "many sign-ins at once" in response.text
            assert int(response.headers["retry-after"]) >= 1
    response = client.post(
        "/login", data={"name": "alice", "password": PASSWORD, "csrf_token": csrf}
    )
    assert response.status_code == 200  # signed in: the busy refusals counted as no failure


def test_in_the_database_the_wait_doubles_and_a_right_password_forgets_the_pair(
    app: FastAPI,
) -> None:
    now = [1_700_000_000.0]
    throttle = SignInThrottle(sessions=app.state.sessions, clock=lambda: now[0])
    the_wait_doubles_and_a_right_password_forgets_the_pair(throttle, now)
    assert len(throttle) == 3  # pair, address and name: hashed keys, nothing else stored
    now[0] += 2 * 3600  # an hour without attempts forgets them, and their rows go
    throttle.reserve(name="carol", address="10.0.0.2").succeeded()
    assert len(throttle) == 0  # bob's rows forgotten; carol's attempt given back


def test_web_processes_share_the_counters_a_guesser_gets_no_more_attempts(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two throttles on one database are two web processes (`ganstudio serve --workers 2`).
    make_user(app, name="alice")
    checked = count_checks(monkeypatch)
    processes = [
        SignInThrottle(sessions=app.state.sessions, max_concurrent_checks=30) for _ in range(2)
    ]

    def attempt(i: int) -> None:
        with app.state.sessions() as db:
            users_service.authenticate(
                db,
                name="alice",
                password=f"guess {i}",
                address="198.51.100.7",
                throttle=processes[i % 2],
            )

    raised = run_in_threads(20, attempt)
    assert 1 <= len(checked) <= FREE_ATTEMPTS
    assert len(raised) == 20
    assert sum(isinstance(exc, TooManyAttemptsError) for exc in raised) >= 20 - FREE_ATTEMPTS
