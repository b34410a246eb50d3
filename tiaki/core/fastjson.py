"""JSON exactly as the standard library writes and reads it (compact, UTF-8
unescaped), only faster: orjson where its result is provably the same, the
standard library where it might not be. Every message, stored batch and
content hash goes through here, so a record costs a few microseconds of JSON
instead of tens (make bench), and no byte anyone hashes changes.

Where the two differ, and what is done about it:
- a float the standard library writes with an exponent (1e-05, 1e+16) may be
  written otherwise by orjson, and NaN or infinity become null: an output
  with any number written with an exponent, a tiny fraction (0.0000...) or a
  null is written again by the standard library;
- an integer beyond 64 bits, a key that is not text, a subclass of str, int,
  dict or list, a date or a dataclass: orjson refuses them, so the standard
  library writes them (or refuses them as it always did);
- reading, orjson turns an integer beyond 64 bits into a float and refuses
  NaN: text with a run of 20 or more digits, or that orjson refuses, is read
  by the standard library.
"""

from __future__ import annotations

import json
import re

import orjson

_OPTIONS = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
            | orjson.OPT_PASSTHROUGH_SUBCLASS)
# A number token (after ':', ',' or '[' in compact output) that either library
# may write differently, or a null that may have been a NaN. Text inside a
# string can match too: it is then only written twice, never wrongly. The
# regular expression is slow, so plain searches for its parts go first.
_MAY_DIFFER = re.compile(rb"[:,\[](?:-?[0-9.]+[eE]|-?0\.0000|null)")
_DIGITS = bytes(1 if 0x30 <= b <= 0x39 else 0 for b in range(256))  # digit -> 1, else 0
_LONG_NUMBER = b"\x01" * 20  # 20 digits in a row: maybe an integer beyond 64 bits


def dumps(value: object, sort_keys: bool = False) -> bytes:
    """json.dumps(value, sort_keys=sort_keys, separators=(",", ":"),
    ensure_ascii=False).encode(), byte for byte."""
    try:
        out = orjson.dumps(value, option=_OPTIONS | (orjson.OPT_SORT_KEYS if sort_keys else 0))
        if not (b"+" in out or b"e-" in out or b"0.0000" in out or b"null" in out) or (
                not _MAY_DIFFER.search(out)):
            return out
    except orjson.JSONEncodeError:
        pass
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"),
                      ensure_ascii=False).encode()


def loads(data: bytes | bytearray | str) -> object:
    """json.loads(data), value for value."""
    raw = data.encode() if isinstance(data, str) else data
    if _LONG_NUMBER not in raw.translate(_DIGITS):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)
