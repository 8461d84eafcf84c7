"""Error texts are made storable before they are written (runner/outcome.clean_error)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jobline.runner.outcome import ERROR_TEXT_LIMIT, clean_error


def test_a_short_clean_error_is_kept_as_is() -> None:
    assert clean_error("RuntimeError: boom") == "RuntimeError: boom"


def test_nul_and_lone_surrogates_are_escaped_visibly() -> None:
    assert clean_error("a\x00b\udc80c") == "a\\x00b\\udc80c"


def test_a_long_error_is_truncated_to_the_limit_and_says_so() -> None:
    cleaned = clean_error("é" * 10_000)
    assert len(cleaned.encode()) <= ERROR_TEXT_LIMIT
    assert cleaned.endswith("[20,000 bytes, truncated]")
    assert cleaned.startswith("éé")


@given(st.text(alphabet=st.characters(codec=None)), st.integers(40, 10_000))
def test_every_cleaned_error_is_utf8_without_nul_and_within_the_limit(
    text: str, limit: int
) -> None:
    cleaned = clean_error(text, limit)
    encoded = cleaned.encode("utf-8")  # raises on a lone surrogate
    assert b"\x00" not in encoded and len(encoded) <= limit
