"""The fast JSON codec writes the very bytes the standard library writes
(compact, UTF-8, keys sorted when asked) and reads the very values it reads,
for every JSON value: content hashes, stored batches and messages are the
same whichever library made them."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiaki.core import fastjson

keys = st.text(st.characters(exclude_categories=("Cs",)), max_size=6)
scalars = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.integers(-2 ** 70, 2 ** 70) | st.text(st.characters(exclude_categories=("Cs",))))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(keys, inner, max_size=4), max_leaves=25)


def standard(value, sort_keys=False) -> bytes:
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"),
                      ensure_ascii=False).encode()


def same(a, b) -> bool:
    """Equal as values, NaN included, and of the same types (1 is not 1.0)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and repr(a) == repr(b))
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


@given(values, st.booleans())
def test_writes_what_the_standard_library_writes(value, sort_keys):
    assert fastjson.dumps(value, sort_keys=sort_keys) == standard(value, sort_keys)


@given(st.floats())
def test_every_float_is_written_as_the_standard_library_writes_it(number):
    for value in (number, [number, {"n": number}], [1, -number]):
        assert fastjson.dumps(value) == standard(value)


@given(st.uuids(), st.floats())
def test_ids_beside_numbers_are_written_as_the_standard_library_writes_them(an_id, number):
    value = {"delivery_id": f"{an_id}.1:evaluation", "records": [{"n": number}]}
    assert fastjson.dumps(value, sort_keys=True) == standard(value, sort_keys=True)


@given(values)
def test_reads_what_the_standard_library_reads(value):
    text = standard(value)
    assert same(fastjson.loads(text), json.loads(text))
    assert same(fastjson.loads(text.decode()), json.loads(text))


@pytest.mark.parametrize("text", ["[18446744073709551616]", "[-9223372036854775809]",
                                  "[1e400,-1e400]", "[NaN]", '{"a":1,"a":2}', '"\\ud800"',
                                  '"\ud800"', "[1.0,2,-0.0]"])
def test_reads_the_corners_as_the_standard_library_does(text):
    assert same(fastjson.loads(text), json.loads(text))


def test_refuses_what_the_standard_library_refuses():
    with pytest.raises(TypeError):
        fastjson.dumps({"when": object()})
