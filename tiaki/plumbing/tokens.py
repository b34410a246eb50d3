"""Makes API tokens for a local setup: `python -m tiaki.tokens DIR KIND:ID ...`.

Writes DIR/identities.yaml (SHA-256 hashes only: what the services read) and
DIR/tokens/KIND-ID (the token itself, mode 600: what a client sends). Existing
tokens and identities are kept, so running it again, or for one more identity,
changes nothing else."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import yaml

from tiaki.plumbing.identity import KINDS, token_hash


def ensure_tokens(directory: str, who: list[tuple[str, str]]) -> Path:
    root = Path(directory)
    (root / "tokens").mkdir(parents=True, exist_ok=True)
    out = root / "identities.yaml"
    known = yaml.safe_load(out.read_text()) if out.exists() else None
    identities = {(i["kind"], i["id"]): i for i in (known or {}).get("identities", [])}
    for kind, ident in who:
        if kind not in KINDS:
            raise SystemExit(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
        path = root / "tokens" / f"{kind}-{ident}"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(f"tk_{kind}_{secrets.token_urlsafe(24)}\n")
        token = path.read_text().strip()
        identities[(kind, ident)] = {"kind": kind, "id": ident, "token_sha256": token_hash(token)}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump({"identities": list(identities.values())}, sort_keys=False))
    tmp.replace(out)  # services never read a half-written file
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or any(":" not in a for a in argv[1:]):
        raise SystemExit("usage: python -m tiaki.tokens DIR KIND:ID [KIND:ID ...]")
    print(ensure_tokens(argv[0], [tuple(a.split(":", 1)) for a in argv[1:]]))


if __name__ == "__main__":
    main()
