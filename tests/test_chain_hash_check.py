"""The fast check of a record's hash (``record_hash_matches``) answers exactly as recomputing it does."""

from __future__ import annotations

import json
import math
import random
import struct
from typing import Any

import pydantic_core
import pytest

from probe.storage.chain import GENESIS, record_hash, record_hash_matches
from probe.storage.columns import CHAINED_COLUMNS, INITIAL_SCHEMA

TRICKY_TEXT = ["", "Жаңаөзен", "\x00\x01\x1f\x7f", '"\\/<>&', "\u2028\u2029", "😀 𝄞", "\t\n\r\b\f", "a" * 5000]
TRICKY_FLOATS = [0.0, -0.0, 1.0, 0.2, 0.1 + 0.2, 1e-05, 0.0001, 2.5e-07, 123456789.123, 1e16, 1e15 + 0.5, 5e-324]


def random_row(rng: random.Random) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in CHAINED_COLUMNS:
        kind = INITIAL_SCHEMA[name]
        if kind is float:
            row[name] = rng.choice([*TRICKY_FLOATS, rng.uniform(0, 60), rng.random() * 10 ** rng.randint(-9, 20)])
        else:
            row[name] = rng.choice(
                [
                    None,
                    rng.choice(TRICKY_TEXT),
                    "".join(
                        chr(rng.choice([rng.randint(1, 0xD7FF), rng.randint(0xE000, 0x10FFFF)])) for _ in range(20)
                    ),
                ]
            )
    return row


def test_the_fast_encoder_writes_every_character_as_the_canonical_one_does() -> None:
    """Each code point but the surrogates (which neither writes: both refuse them)."""
    for start in range(0, 0x110000, 0x1000):
        text = "".join(
            chr(code) for code in range(start, min(start + 0x1000, 0x110000)) if not 0xD800 <= code <= 0xDFFF
        )
        assert pydantic_core.to_json(text) == json.dumps(text, ensure_ascii=False).encode(), hex(start)
    with pytest.raises(pydantic_core.PydanticSerializationError):
        pydantic_core.to_json("\udc00")


def test_the_fast_encoder_writes_floats_without_an_exponent_as_python_does() -> None:
    rng = random.Random(16122011)
    checked = 0
    while checked < 50_000:
        value = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] if checked % 2 else rng.uniform(0, 1e6)
        if math.isfinite(value) and "e" not in repr(value):
            assert pydantic_core.to_json(value) == repr(value).encode()
            checked += 1


def test_a_match_and_a_mismatch_are_answered_as_recomputing_the_hash_does() -> None:
    rng = random.Random(20111216)
    checked = 0
    for seq in range(1, 3001):
        row = random_row(rng)
        prev = GENESIS if seq == 1 else f"{rng.getrandbits(256):064x}"
        right = record_hash(seq, prev, row)
        assert record_hash_matches(seq, prev, row, right)
        assert not record_hash_matches(seq, prev, row, f"{int(right, 16) ^ 1:064x}")
        assert not record_hash_matches(seq + 1, prev, row, right)
        altered = dict(row, test_keys=(row["test_keys"] or "") + " ")
        assert not record_hash_matches(seq, prev, altered, right)
        checked += 1
    assert checked == 3000


@pytest.mark.parametrize("runtime", [1e-05, 2.5e-07, 1e16, 1e300, 7, True, 2**70])
def test_a_float_python_writes_with_an_exponent_or_another_type_is_still_checked_right(runtime: Any) -> None:
    row = dict.fromkeys(CHAINED_COLUMNS, "x") | {"runtime": runtime}
    assert record_hash_matches(7, GENESIS, row, record_hash(7, GENESIS, row))


@pytest.mark.parametrize("runtime", [math.nan, math.inf])
def test_a_value_the_canonical_encoding_refuses_is_refused_here_too(runtime: float) -> None:
    row = dict.fromkeys(CHAINED_COLUMNS, "x") | {"runtime": runtime}
    with pytest.raises(ValueError):
        record_hash_matches(1, GENESIS, row, "0" * 64)


def test_text_that_is_not_unicode_is_refused_as_recomputing_would() -> None:
    row = dict.fromkeys(CHAINED_COLUMNS, "x") | {"runtime": 0.5, "input": "\ud800"}
    with pytest.raises(ValueError):
        record_hash(1, GENESIS, row)
    with pytest.raises(ValueError):
        record_hash_matches(1, GENESIS, row, "0" * 64)


def test_a_record_missing_a_chained_column_is_refused_as_recomputing_would() -> None:
    row = dict.fromkeys(CHAINED_COLUMNS, "x")
    del row["test_keys"]
    with pytest.raises(KeyError):
        record_hash_matches(1, GENESIS, row, "0" * 64)
