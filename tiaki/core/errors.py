"""The few kinds of refusal tiaki's rules make, each with the field at fault.

Domain code raises these; one table in tiaki/plumbing/grpc_errors.py maps
each kind to a gRPC status for every service, so a caller always gets the
same status for the same kind of problem. A message reads "field: reason"."""

from __future__ import annotations

# A reason quoting what a caller sent never grows with it: an over-long value
# is echoed as its first few hundred characters, never whole.
MAX_REASON_CHARS = 500


def shown(text: str, most: int) -> str:
    """`text` as quoted back to a caller: at most `most` characters and a "…"."""
    return text if len(text) <= most else text[:most] + "…"


class Refused(Exception):
    """A request tiaki will not carry out as asked."""

    kind = "invalid"

    def __init__(self, field: str, reason: str):
        reason = shown(reason, MAX_REASON_CHARS)
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class Invalid(Refused):
    """The input is wrong: fix it and ask again."""

    kind = "invalid"


class NotFound(Refused):
    """Nothing by that name, or nothing the caller may see by that name."""

    kind = "not_found"


class NotNow(Refused):
    """Not in the state it is in now (a failed precondition)."""

    kind = "not_now"


class Forbidden(Refused):
    """The caller may not do this."""

    kind = "forbidden"


class Unauthenticated(Refused):
    """Who is calling is not known."""

    kind = "unauthenticated"


class Conflict(Refused):
    """Someone else changed it first; reading again and retrying may succeed."""

    kind = "conflict"


class Exhausted(Refused):
    """A limit was reached: fewer, smaller or later."""

    kind = "exhausted"


class Unavailable(Refused):
    """Something it depends on did not answer in time: nothing was done; try again."""

    kind = "unavailable"
