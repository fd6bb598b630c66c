"""Domain errors carry a machine code and a Chinese message for residents and staff."""
from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, code: str, message: str, field: str | None = None, **extra: object):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra

    def as_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return {"error": body}


class ValidationFailed(DomainError):
    status_code = 422


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    status_code = 403


class Unauthorized(DomainError):
    status_code = 401


class TooManyRequests(DomainError):
    status_code = 429


class PayloadTooLarge(DomainError):
    status_code = 413
