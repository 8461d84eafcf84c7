"""The HTTP trigger's payload check names the field, the JSON type wanted and the one sent."""

from __future__ import annotations

from typing import Any

import pytest

from jobline.http.trigger_spec import BadTrigger, check_payload
from jobline.plugins import PayloadField

SPEC = {
    "n": PayloadField("integer", required=True),
    "ratio": PayloadField("number"),
    "tags": PayloadField("array"),
    "label": PayloadField("string"),
}


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"n": "7"}, "'n' of 'record' must be of JSON type integer, got string"),
        ({"n": True}, "must be of JSON type integer, got boolean"),
        ({"n": None}, "must be of JSON type integer, got null"),
        ({"n": 1, "ratio": [1]}, "'ratio' of 'record' must be of JSON type number, got array"),
        ({"n": 1, "tags": {}}, "'tags' of 'record' must be of JSON type array, got object"),
        ({"n": 1, "label": 2.5}, "'label' of 'record' must be of JSON type string, got number"),
        ({}, "misses required field 'n'"),
        ({"n": 1, "extra": 0}, "unknown field 'extra'"),
    ],
)
def test_a_payload_that_breaks_the_spec_is_refused_naming_the_field_and_types(
    payload: dict[str, Any], says: str
) -> None:
    with pytest.raises(BadTrigger) as refused:
        check_payload(payload, SPEC, "record")
    assert refused.value.status == 422
    assert says in str(refused.value)


def test_a_payload_that_fits_the_spec_passes() -> None:
    check_payload({"n": 3, "ratio": 1, "tags": [], "label": "x"}, SPEC, "record")
