"""Errors services raise; the web layer turns each into a 4xx with its message."""


class ServiceError(Exception):
    """A request that cannot be done as asked; the message says what to do instead."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(ServiceError):
    status_code = 404


class ConflictError(ServiceError):
    status_code = 409


class InvalidInputError(ServiceError):
    status_code = 422


class PermissionDeniedError(ServiceError):
    """Signed in, but the role does not allow this (or a CSRF check failed)."""

    status_code = 403


class TooManyAttemptsError(ServiceError):
    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BusyError(ServiceError):
    """The server is at capacity for this kind of work; try again after `retry_after` seconds."""

    status_code = 503

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
