"""Settings from JOBLINE_* variables and env files, and the errors for bad values."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from jobline.config import IntakeKind, Settings, load_settings
from jobline.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No JOBLINE_* variable from the outside, and a working directory without .env."""
    for name in list(os.environ):
        if name.upper().startswith("JOBLINE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config_error(**env: str) -> str:
    mp = pytest.MonkeyPatch()
    try:
        for name, value in env.items():
            mp.setenv(name, value)
        with pytest.raises(ConfigError) as info:
            load_settings()
        return str(info.value)
    finally:
        mp.undo()


def test_defaults_load_without_any_variable() -> None:
    settings = load_settings()
    assert settings.mode == "all"
    assert settings.intake is IntakeKind.KAFKA
    assert settings.runner_concurrency == 20
    assert settings.max_message_bytes == 1_000_000
    assert settings.schema_name == "jobline"


def test_a_variable_sets_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBLINE_RUNNER_CONCURRENCY", "7")
    monkeypatch.setenv("JOBLINE_INTAKE", "direct")
    monkeypatch.setenv("JOBLINE_MIGRATE_ON_START", "false")
    settings = load_settings()
    assert settings.runner_concurrency == 7
    assert settings.intake is IntakeKind.DIRECT
    assert settings.migrate_on_start is False


def test_overrides_win_over_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBLINE_RUNNER_CONCURRENCY", "7")
    assert load_settings(runner_concurrency=3).runner_concurrency == 3


def test_an_override_of_the_aliased_schema_field_is_applied() -> None:
    assert load_settings(schema_name="tenant_1").schema_name == "tenant_1"


def test_a_bad_override_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="JOBLINE_RUNNER_CONCURRENCY"):
        load_settings(runner_concurrency=0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JOBLINE_RUNNER_CONCURRENCY", "0"),
        ("JOBLINE_INTAKE", "carrier-pigeon"),
        ("JOBLINE_MAX_MESSAGE_BYTES", "abc"),
        ("JOBLINE_MAX_MESSAGE_BYTES", "999"),
        ("JOBLINE_HTTP_PORT", "70000"),
        ("JOBLINE_LOG_FORMAT", "xml"),
        ("JOBLINE_LOG_LEVEL", "verbose"),
        ("JOBLINE_PRODUCE_TIMEOUT_S", "0"),
        ("JOBLINE_MIGRATE_ON_START", "perhaps"),
    ],
)
def test_a_bad_value_raises_config_error_naming_variable_and_value(name: str, value: str) -> None:
    message = config_error(**{name: value})
    assert f"{name}={value!r}" in message


def test_every_bad_variable_is_named_in_one_error() -> None:
    message = config_error(JOBLINE_RUNNER_CONCURRENCY="0", JOBLINE_INTAKE="carrier-pigeon")
    assert "JOBLINE_RUNNER_CONCURRENCY" in message
    assert "JOBLINE_INTAKE" in message


def test_the_log_level_is_read_ignoring_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBLINE_LOG_LEVEL", "DEBUG")
    assert load_settings().log_level == "DEBUG"


def test_a_retry_cap_below_the_retry_base_is_refused() -> None:
    message = config_error(JOBLINE_RETRY_BASE_S="10", JOBLINE_RETRY_CAP_S="5")
    assert "JOBLINE_RETRY_CAP_S='5'" in message
    assert "JOBLINE_RETRY_BASE_S" in message


@pytest.mark.parametrize("schema", ["jobline", "tenant_1", "_x", "a" * 63])
def test_a_schema_name_matching_the_pattern_is_accepted(
    monkeypatch: pytest.MonkeyPatch, schema: str
) -> None:
    monkeypatch.setenv("JOBLINE_SCHEMA", schema)
    assert load_settings().schema_name == schema


@pytest.mark.parametrize("schema", ["Bad-Name", "1abc", "", "a" * 64, "drop table;"])
def test_a_schema_name_not_matching_the_pattern_is_refused(schema: str) -> None:
    message = config_error(JOBLINE_SCHEMA=schema)
    assert repr(schema) in message


def test_the_schema_error_names_the_variable_jobline_schema() -> None:
    message = config_error(JOBLINE_SCHEMA="Bad-Name")
    assert re.search(r"(?m)^\s*JOBLINE_SCHEMA='Bad-Name'", message)


def test_a_dotenv_file_in_the_working_directory_is_read(clean_env: Path) -> None:
    (clean_env / ".env").write_text("JOBLINE_RUNNER_CONCURRENCY=11\nJOBLINE_MODE=api\n")
    settings = load_settings()
    assert settings.runner_concurrency == 11
    assert settings.mode == "api"


def test_a_real_variable_wins_over_the_dotenv_file(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".env").write_text("JOBLINE_RUNNER_CONCURRENCY=11\n")
    monkeypatch.setenv("JOBLINE_RUNNER_CONCURRENCY", "12")
    assert load_settings().runner_concurrency == 12


def test_a_bad_value_in_the_dotenv_file_raises_config_error(clean_env: Path) -> None:
    (clean_env / ".env").write_text("JOBLINE_INTAKE=carrier-pigeon\n")
    with pytest.raises(ConfigError, match="JOBLINE_INTAKE='carrier-pigeon'"):
        load_settings()


def test_unrelated_variables_in_the_dotenv_file_are_ignored(clean_env: Path) -> None:
    (clean_env / ".env").write_text("SOMETHING_ELSE=1\nJOBLINE_NOT_A_SETTING=2\n")
    assert load_settings().mode == "all"


def test_the_files_named_by_jobline_env_file_are_read(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / "a.env").write_text("JOBLINE_MODE=api\n")
    (clean_env / "b.env").write_text("JOBLINE_RUNNER_CONCURRENCY=9\n")
    monkeypatch.setenv("JOBLINE_ENV_FILE", "a.env, b.env")
    settings = load_settings()
    assert settings.mode == "api"
    assert settings.runner_concurrency == 9


def test_a_named_env_file_wins_over_the_dotenv_file(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".env").write_text("JOBLINE_MODE=jobs\n")
    (clean_env / "later.env").write_text("JOBLINE_MODE=api\n")
    monkeypatch.setenv("JOBLINE_ENV_FILE", "later.env")
    assert load_settings().mode == "api"


def test_a_real_variable_wins_over_a_named_env_file(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / "a.env").write_text("JOBLINE_MODE=api\n")
    monkeypatch.setenv("JOBLINE_ENV_FILE", "a.env")
    monkeypatch.setenv("JOBLINE_MODE", "scheduler")
    assert load_settings().mode == "scheduler"


def test_a_missing_env_file_raises_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBLINE_ENV_FILE", "nowhere/missing.env")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "JOBLINE_ENV_FILE" in str(info.value)
    assert "nowhere/missing.env" in str(info.value)


def test_a_directory_named_as_env_file_raises_config_error(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / "adir").mkdir()
    monkeypatch.setenv("JOBLINE_ENV_FILE", "adir")
    with pytest.raises(ConfigError, match="adir"):
        load_settings()


def test_skipped_config_ids_parses_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBLINE_INTAKE_SKIP_CONFIGS", "3, 5,,8")
    assert load_settings().skipped_config_ids == {3, 5, 8}


def test_skipped_config_ids_is_empty_by_default() -> None:
    assert load_settings().skipped_config_ids == frozenset()


def test_settings_are_frozen() -> None:
    settings: Settings = load_settings()
    with pytest.raises(ValueError):
        settings.mode = "api"  # type: ignore[misc]
