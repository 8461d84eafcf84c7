"""Values the jobs DB cannot store, found before they reach it. Pure.

PostgreSQL refuses a NUL character in `text` and `jsonb` (`\\u0000 cannot be converted to
text`), UTF-16 surrogates (UTF-8 cannot encode them), and numbers beyond numeric's range;
JSON has no NaN or infinity. One such value would otherwise fail a whole intake batch.
`find_problem` walks a JSON-like value; `may_hold_problem` looks at a raw message's bytes
first, so that the intake walks only the messages that may need it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from jobline.job.limits import MAX_INT_DIGITS

_INT_LIMIT = 10**MAX_INT_DIGITS
# Below this size a message is walked at once: searching its bytes costs more than the
# walk (measured: about 2 µs of searches against 1.5 µs of walking a 170-byte message).
_WALK_BELOW_BYTES = 512
# Digits map to "0" and "E" to "e", so that one search finds every exponent of 3+ digits.
_NUMBER_SHAPE = bytes.maketrans(b"0123456789E", b"0000000000e")
# A float overflows to infinity only with an exponent of 3+ digits or 200+ digits before
# its point (10**199 * 10**99 is still finite); the JSON parser has no other way to one.
_LONG_RUN = b"0" * 200


_NUL_TEXT = (
    "holds a NUL character (\\u0000), which PostgreSQL cannot store: "
    "remove it, or encode binary data as base64"
)
SURROGATE_TEXT = (
    "holds a lone UTF-16 surrogate, which UTF-8 and PostgreSQL cannot store: "
    "send valid Unicode text (pair the surrogates)"
)


@dataclass(frozen=True)
class Problem:
    """Why a value cannot be stored: its reason name, where it is, and what is wrong."""

    reason: str
    field: str
    text: str

    def under(self, prefix: str) -> Problem:
        """The same problem, seen from the value that holds this one at `prefix`."""
        return Problem(self.reason, prefix + self.field, self.text)


def may_hold_problem(data: bytes) -> bool:
    """False only when the raw JSON cannot hold a NUL, NaN or infinite number.

    The JSON parser itself refuses lone surrogates and over-long integers, and a raw NUL
    byte is not JSON, so escapes and number shapes are all that is left to look for.
    """
    if len(data) < _WALK_BELOW_BYTES:
        return True
    if b"\\u0000" in data or b"NaN" in data or b"Infinity" in data:
        return True
    shape = data.translate(_NUMBER_SHAPE)
    return b"e000" in shape or b"e+000" in shape or _LONG_RUN in shape


def text_problem(text: str, field: str) -> Problem | None:
    """A NUL or a surrogate in a string (or an object key), which no column can hold."""
    if "\x00" in text:
        return Problem("unstorable", field, _NUL_TEXT)
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as exc:
            code = ord(text[exc.start])
            return Problem("unstorable", field, f"{SURROGATE_TEXT} (U+{code:04X})")
    return None


def long_number_problem(field: str) -> Problem:
    return Problem(
        "unstorable",
        field,
        f"holds a number of over {MAX_INT_DIGITS:,} digits, more than jobline carries: "
        "send it as a string",
    )


def _float_problem(value: float) -> Problem | None:
    if math.isfinite(value):
        return None
    return Problem(
        "not_json", "", f"holds {value!r}, which JSON cannot carry: send null or a string"
    )


def _wrong_type(value: Any) -> Problem:
    return Problem(
        "wrong_type",
        "",
        f"is a {type(value).__name__}, which JSON cannot carry: convert it to a string, "
        "number, boolean, null, list or object with string keys",
    )


def _dict_problem(value: dict[Any, Any]) -> Problem | None:
    for key, item in value.items():
        if type(key) is not str or "\x00" in key or not key.isascii():
            found = _key_problem(key)
            if found is not None:
                return found
        found = _problem(item)
        if found is not None:
            return found.under(f".{key}")
    return None


def _key_problem(key: Any) -> Problem | None:
    if not isinstance(key, str):
        return _wrong_type(key).under(f" key {key!r}")
    return text_problem(key, f" key {key!r}")


def _list_problem(value: list[Any] | tuple[Any, ...]) -> Problem | None:
    for index, item in enumerate(value):
        found = _problem(item)
        if found is not None:
            return found.under(f"[{index}]")
    return None


def _problem(value: Any) -> Problem | None:
    """The first problem inside `value`, its field relative to `value` ("" is itself).

    Exact types first: this runs on every payload that is not known clean, so the common
    JSON types cost one comparison each, and a path is only built for a problem found.
    """
    kind = type(value)
    if kind is str:
        return None if "\x00" not in value and value.isascii() else text_problem(value, "")
    if kind is dict:
        return _dict_problem(value)
    if kind is list:
        return _list_problem(value)
    if kind is int:
        return None if -_INT_LIMIT < value < _INT_LIMIT else long_number_problem("")
    if kind is float:
        return _float_problem(value)
    if value is None or kind is bool:
        return None
    return _subclass_problem(value)


def _subclass_problem(value: Any) -> Problem | None:
    # str and int enums, tuples, ...: serialized as their base type
    if isinstance(value, str):
        return text_problem(value, "")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _problem(int(value))
    if isinstance(value, float):
        return _float_problem(value)
    if isinstance(value, (dict, list, tuple)):
        return _dict_problem(value) if isinstance(value, dict) else _list_problem(value)
    return _wrong_type(value)


def find_problem(value: Any, field: str) -> Problem | None:
    """The first value inside a JSON-like value that the jobs DB cannot store, or None."""
    found = _problem(value)
    return None if found is None else found.under(field)


def find_in_fields(fields: dict[str, Any]) -> Problem | None:
    """The first problem in a message's top-level fields, each named by itself."""
    for name, value in fields.items():
        found = text_problem(name, f"field name {name!r}") or find_problem(value, name)
        if found is not None:
            return found
    return None
