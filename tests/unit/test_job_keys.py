"""fold_keyed: one trigger per key per batch, with the outcome of applying them in order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from jobline.job import JobMessage, KeyMode
from jobline.job.keys import fold_keyed, key_scope

EXISTING = "existing job"


def _job(n: int, key: str | None, mode: KeyMode, config: int = 1) -> JobMessage:
    return JobMessage.create(
        type="t", payload={"n": n}, plugin_config_id=config, team_id=1, key=key, key_mode=mode
    )


def _apply(state: dict[object, object], jobs: list[JobMessage]) -> dict[object, object]:
    """The semantics, one trigger at a time, against queued (unlocked) jobs."""
    out = dict(state)
    for job in jobs:
        scope = key_scope(job)
        if scope is None:
            out[("unkeyed", job.payload["n"])] = job.payload["n"]
        elif job.key_mode is KeyMode.REPLACE or scope not in out:
            out[scope] = job.payload["n"]
    return out


triggers = st.lists(
    st.tuples(
        st.sampled_from([None, "a", "b"]), st.sampled_from(list(KeyMode)), st.sampled_from([1, 2])
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(triggers, st.booleans())
def test_folding_a_batch_gives_the_same_queue_as_applying_it_in_order(
    spec: list[tuple[str | None, KeyMode, int]],
    queued_a: bool,
) -> None:
    jobs = [_job(n, key, mode, config) for n, (key, mode, config) in enumerate(spec)]
    before: dict[object, object] = {(1, "a"): EXISTING} if queued_a else {}
    folded = fold_keyed(jobs)
    assert _apply(before, folded) == _apply(before, jobs)
    scopes = [key_scope(j) for j in folded if j.key is not None]
    assert len(scopes) == len(set(scopes))


def test_unkeyed_jobs_all_pass_through_in_order() -> None:
    jobs = [_job(n, None, KeyMode.REPLACE) for n in range(5)]
    assert fold_keyed(jobs) == jobs


def test_the_same_key_of_two_plugin_configs_is_two_keys() -> None:
    jobs = [_job(1, "k", KeyMode.REPLACE, config=1), _job(2, "k", KeyMode.REPLACE, config=2)]
    assert fold_keyed(jobs) == jobs
