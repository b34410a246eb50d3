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

import orjson

_OPTIONS = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
            | orjson.OPT_PASSTHROUGH_SUBCLASS)
# Where the two libraries may write a value differently: a number with an
# exponent, a tiny fraction (0.0000...), or a null that may have been a NaN.
# Each is looked for as a number token (after ':', ',', '[' or the start, with
# its minus sign), so a uuid's "3e-" is not one; text inside a string can
# still look like one, and is then only written twice, never wrongly.
_MAY_DIFFER = (b"e-", b"e+", b"0.0000", b"null")
# A byte of each needle: where it is not in the output (one memchr), neither is the
# needle, and the slower search for it is skipped (records seldom hold a + or a .).
_RARE_BYTE = {b"e-": b"-", b"e+": b"+", b"0.0000": b".", b"null": b"l"}
_TOKEN_AFTER = b":,["
_NUMBER_PART = b"0123456789."
_DIGITS = bytes(1 if 0x30 <= b <= 0x39 else 0 for b in range(256))  # digit -> 1, else 0
_LONG_NUMBER = b"\x01" * 19  # 19 digits in a row: maybe beyond 64 bits (below -2**63)...
_NUMBER_STARTS_AFTER = b":,[- \t\r\n"  # ...when a number starts there, not inside a string


def dumps(value: object, sort_keys: bool = False) -> bytes:
    """json.dumps(value, sort_keys=sort_keys, separators=(",", ":"),
    ensure_ascii=False).encode(), byte for byte."""
    try:
        out = orjson.dumps(value, option=_OPTIONS | (orjson.OPT_SORT_KEYS if sort_keys else 0))
        if not _may_differ(out):
            return out
    except orjson.JSONEncodeError:
        pass
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"),
                      ensure_ascii=False).encode()


def _may_differ(out: bytes) -> bool:
    for needle in _MAY_DIFFER:
        if _RARE_BYTE[needle] not in out:
            continue
        at = out.find(needle)
        while at != -1:
            if _token_starts(out, _number_start(out, at) if needle[0] == ord("e") else at):
                return True
            at = out.find(needle, at + 1)
    return False


def _number_start(out: bytes, at: int) -> int:
    """Where the digits before an exponent at `at` begin; -1 when there are none."""
    start = at
    while start > 0 and out[start - 1] in _NUMBER_PART:
        start -= 1
    return start if start < at else -1


def _token_starts(out: bytes, at: int) -> bool:
    """Whether a value token (a number, its minus sign, or null) starts at `at`."""
    if at < 0:
        return False
    if at > 0 and out[at - 1] == 0x2D:  # a minus sign
        at -= 1
    return at == 0 or out[at - 1] in _TOKEN_AFTER


def loads(data: bytes | bytearray | str) -> object:
    """json.loads(data), value for value."""
    try:
        raw = data.encode() if isinstance(data, str) else data
        if not _long_number(raw):
            return orjson.loads(raw)
    except (UnicodeEncodeError, orjson.JSONDecodeError):  # a lone surrogate, NaN, ...
        pass
    return json.loads(data)


def _long_number(raw: bytes) -> bool:
    digits = raw.translate(_DIGITS)
    at = digits.find(_LONG_NUMBER)
    while at != -1:  # at: where a run of digits starts
        if at == 0 or raw[at - 1] in _NUMBER_STARTS_AFTER:
            return True
        at = digits.find(_LONG_NUMBER, at + len(_LONG_NUMBER))
    return False
