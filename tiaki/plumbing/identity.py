"""Who is calling: API tokens in gRPC metadata, checked against hashes.

Tokens are never stored in clear: the identities file holds SHA-256 hashes
(`tiaki tokens` writes them). A caller is a provider, an Agency unit or the
Agency itself (which manages plans).

With mutual TLS on (TLS_CLIENT_CA in the service's config, see tiaki/mtls.py)
the caller is the one its client certificate names; a token is then optional,
and one naming anyone else is refused."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from dataclasses import dataclass

import yaml
from nameko import config
from nameko.extensions import DependencyProvider

from tiaki.core.errors import Forbidden, Invalid, Unauthenticated

KINDS = ("provider", "unit", "agency", "representative")  # representative: of service users
CREDENTIAL_METADATA = ("authorization",)
HOW_TO_SEND = "send the API token as 'authorization: Bearer <token>'"
# Which of the organisation's people acts: its staff id, vouched for by the
# organisation's token. Absent: no person named (a system such as a vendor's client).
PERSON_METADATA = "tiaki-person"
PERSON = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Caller:
    kind: str
    id: str
    person: str = ""  # the acting person's staff id; "" when none was named


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def load_identities(path: str) -> dict[str, Caller]:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    out = {}
    for entry in data.get("identities", []):
        if entry["kind"] not in KINDS:
            raise ValueError(f"unknown identity kind {entry['kind']!r} in {path}")
        out[entry["token_sha256"]] = Caller(entry["kind"], entry["id"])
    return out


def bearer_token(metadata) -> str | None:
    """The token of an `authorization: Bearer <token>` entry; None when there is
    none (or it is empty). Any other form is refused, saying how to send it."""
    for key, value in metadata or ():
        if key.lower() == "authorization":
            value = (value.decode() if isinstance(value, bytes) else value).strip()
            if not value:
                return None
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("", HOW_TO_SEND)
            return token.strip()
    return None


def person_of(metadata) -> str:
    """The `tiaki-person` staff id of a call; "" when none is sent. A malformed
    one is refused rather than recorded."""
    for key, value in metadata or ():
        if key.lower() == PERSON_METADATA:
            value = value.decode() if isinstance(value, bytes) else value
            if not value:
                return ""
            if not PERSON.fullmatch(value):
                raise Invalid("", f"{PERSON_METADATA} must be a staff id of lower-case "
                                  "letters, digits, '.', '_' or '-' (at most 64), "
                                  "e.g. aroha.ngata")
            return value
    return ""


class Identities(DependencyProvider):
    """Gives each worker `require(context, *kinds) -> Caller`."""

    def setup(self):
        self.callers = load_identities(config["IDENTITIES_FILE"])
        self.tls = bool((config.get("TLS_CLIENT_CA") or "").strip())

    def get_dependency(self, worker_ctx):
        return self

    def worker_setup(self, worker_ctx):
        # nameko-grpc copies all call metadata into the worker's context data,
        # which nameko forwards as headers on every RPC and event the worker
        # sends: the caller's token would travel the broker. Identity is read
        # from the call itself (`require`), so the copy is dropped here.
        for key in CREDENTIAL_METADATA:
            worker_ctx.context_data.pop(key, None)

    def require(self, context, *kinds: str) -> Caller:
        """The authenticated caller, with the person its organisation names
        (`tiaki-person`, "" when none)."""
        metadata = context.invocation_metadata()
        token = bearer_token(metadata)
        if self.tls:
            caller = self._certificate_caller(context)
            # A token too must name the same caller: a provider's certificate
            # with another's token is a mix-up or an attempt, never a call to serve.
            if token and self._token_caller(token) != caller:
                raise Forbidden("", "the API token names another identity than the client certificate")
        elif not token:
            raise Unauthenticated("", f"no API token: {HOW_TO_SEND}")
        else:
            caller = self._token_caller(token)
        if caller.kind not in kinds:
            raise Forbidden("", f"this call is for {' or '.join(kinds)} tokens, not a {caller.kind}")
        return dataclasses.replace(caller, person=person_of(metadata))

    def _token_caller(self, token: str) -> Caller:
        digest = token_hash(token)
        caller = None
        for known, who in self.callers.items():
            if hmac.compare_digest(known, digest):
                caller = who
        if caller is None:
            raise Unauthenticated("", "unknown API token")
        return caller

    def _certificate_caller(self, context) -> Caller:
        peer = getattr(getattr(context, "request_stream", None), "tiaki_peer", None)
        if peer is None:  # the TLS server sets it on every call; this is a bug, not a client
            raise Unauthenticated("", "no client certificate on this call")
        if peer.caller is None:
            raise Unauthenticated("", "the client certificate names no tiaki identity "
                            "(SAN URI tiaki:<kind>:<id>)")
        # The identities file stays the list of who exists: removing someone
        # from it ends their certificate too (no CRL needed for that).
        if peer.caller not in self.callers.values():
            raise Unauthenticated("", "the client certificate names an identity this service does not know")
        return peer.caller
