"""Settings from JOBLINE_* environment variables and env files, validated at start.

Env files: `.env` in the working directory, plus any files named (comma-separated) by
JOBLINE_ENV_FILE. Real environment variables win over files.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobline.errors import ConfigError

ENV_PREFIX = "JOBLINE_"


class IntakeKind(StrEnum):
    KAFKA = "kafka"
    DIRECT = "direct"


class SchemaFrom(StrEnum):
    """Where a connection's search_path comes from (JOBLINE_DB_SCHEMA_FROM).

    `options`: the libpq `options` startup parameter (`-c search_path=...`, with the
    server-side timeouts). `role`: no `options` at all (PgBouncer refuses the parameter);
    the connecting role's own settings (`ALTER ROLE ... SET search_path`) hold the schema.
    """

    OPTIONS = "options"
    ROLE = "role"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        frozen=True,
        env_file_encoding="utf-8",
    )

    # where things are
    kafka_hosts: str = "127.0.0.1:9092"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/jobline_main"
    jobs_database_url: str = "postgresql://postgres@127.0.0.1:5432/jobline_jobs"
    schema_name: str = Field(
        default="jobline", alias="JOBLINE_SCHEMA", pattern=r"^[a-z_][a-z0-9_]{0,62}$"
    )
    migrate_on_start: bool = True
    #: for LISTEN and other session-bound connections; empty: the URL above (no pooler)
    database_direct_url: str = ""
    jobs_database_direct_url: str = ""

    # limits on every database connection (jobs DB and main DB)
    db_connect_timeout_s: int = Field(default=5, ge=2, le=300)
    db_statement_timeout_s: float = Field(default=30.0, gt=0, le=86_400)
    db_lock_timeout_s: float = Field(default=5.0, gt=0, le=86_400)
    db_keepalives_idle_s: int = Field(default=30, ge=1, le=7200)
    db_keepalives_interval_s: int = Field(default=10, ge=1, le=600)
    db_keepalives_count: int = Field(default=3, ge=1, le=100)
    # behind PgBouncer in transaction mode: false and `role` (docs/configuration.md)
    db_prepared_statements: bool = True
    db_schema_from: SchemaFrom = SchemaFrom.OPTIONS

    # Kafka security (passed to every Kafka client: producer, intake consumer, DLQ producer)
    kafka_security_protocol: str = Field(
        default="plaintext", pattern=r"^(?i:plaintext|ssl|sasl_plaintext|sasl_ssl)$"
    )
    kafka_sasl_mechanism: str = Field(
        default="", pattern=r"^(|PLAIN|SCRAM-SHA-256|SCRAM-SHA-512|OAUTHBEARER|GSSAPI)$"
    )
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_ca_location: str = ""

    # what this process runs
    mode: str = "all"
    capabilities: str = ""
    plugins: str = ""

    # triggers
    intake: IntakeKind = IntakeKind.KAFKA
    jobs_topic: str = "jobs"
    dlq_topic: str = "jobs_dlq"
    max_message_bytes: int = Field(default=1_000_000, ge=1_000, le=100_000_000)
    produce_timeout_s: float = Field(default=10.0, gt=0, le=300)

    # intake
    intake_group: str = "jobs-inserter"
    intake_batch_size: int = Field(default=1000, ge=1, le=100_000)
    intake_batch_ms: int = Field(default=50, ge=1, le=60_000)
    intake_db_down_exit_s: float = Field(default=300.0, gt=0)
    intake_skip_configs: str = ""
    intake_session_timeout_s: float = Field(default=10.0, ge=1, le=300)
    intake_db_timeout_s: float = Field(default=30.0, gt=0, le=3600)

    # runner
    runner_concurrency: int = Field(default=20, ge=1, le=10_000)
    #: jobs fetched ahead and held locked for a free slot; unset: ~50 ms of work (adaptive)
    runner_prefetch: int | None = Field(default=None, ge=0, le=100_000)
    runner_poll_interval_s: float = Field(default=5.0, gt=0, le=3600)
    runner_heartbeat_s: float = Field(default=5.0, gt=0, le=600)
    runner_dead_after_s: float = Field(default=30.0, gt=0, le=86_400)
    job_timeout_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=1000)
    retry_base_s: float = Field(default=2.0, gt=0)
    retry_cap_s: float = Field(default=3600.0, gt=0)
    disabled_config_delay_s: float = Field(default=60.0, gt=0)
    unknown_job_give_up_s: float = Field(default=3600.0, ge=0, le=30 * 86_400)
    runner_zombie_threads_unready: int = Field(default=10, ge=0, le=10_000)
    shutdown_grace_s: float = Field(default=25.0, ge=0, le=3600)
    shutdown_reserve_s: float = Field(default=5.0, ge=0, le=600)
    sample_interval_s: float = Field(default=10.0, gt=0, le=3600)

    # scheduler
    scheduler_check_interval_s: float = Field(default=1.0, gt=0, le=60)

    # plugins
    plugin_log_retention_days: int = Field(default=7, ge=1, le=3650)

    # http
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    #: bearer tokens of the HTTP trigger API (comma list); empty: the API answers 503
    api_tokens: str = ""

    # logs
    log_format: str = Field(default="auto", pattern=r"^(auto|json|console)$")
    log_level: str = Field(default="info", pattern=r"^(?i:debug|info|warning|error)$")
    #: the servers' event loop: uvloop when installed (the `fast` extra), or as named
    event_loop: str = Field(default="auto", pattern=r"^(auto|asyncio|uvloop)$")

    @field_validator("retry_cap_s")
    @classmethod
    def _cap_not_below_base(cls, cap: float, info: Any) -> float:
        base = info.data.get("retry_base_s")
        if base is not None and cap < base:
            raise ValueError(f"must be at least JOBLINE_RETRY_BASE_S ({base})")
        return cap

    @property
    def main_direct_url(self) -> str:
        """The main DB without a pooler in between: for LISTEN and session state."""
        return self.database_direct_url or self.database_url

    @property
    def jobs_direct_url(self) -> str:
        """The jobs DB without a pooler in between: for LISTEN and session state."""
        return self.jobs_database_direct_url or self.jobs_database_url

    @property
    def skipped_config_ids(self) -> frozenset[int]:
        return frozenset(int(x) for x in self.intake_skip_configs.split(",") if x.strip())


def _env_files() -> tuple[str, ...]:
    named = [f.strip() for f in os.environ.get(ENV_PREFIX + "ENV_FILE", "").split(",") if f.strip()]
    for name in named:
        if not os.path.isfile(name):
            raise ConfigError(
                f"JOBLINE_ENV_FILE names {name!r}, which is not a readable file: "
                "fix the path or unset JOBLINE_ENV_FILE"
            )
    return (".env", *named)


def _field_env_name(field_name: str) -> str:
    if field_name.startswith(ENV_PREFIX):  # an aliased field reports its alias
        return field_name
    field = Settings.model_fields.get(field_name)
    if field is not None and field.alias:
        return field.alias
    return ENV_PREFIX + field_name.upper()


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; raise ConfigError naming each bad variable."""
    try:
        kwargs: dict[str, Any] = {"_env_file": _env_files()}
        for key, value in overrides.items():
            kwargs[Settings.model_fields[key].alias or key] = value
        return Settings(**kwargs)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = _field_env_name(str(err["loc"][0])) if err["loc"] else "settings"
            lines.append(f"{name}={err.get('input')!r}: {err['msg']}")
        raise ConfigError(
            "invalid configuration:\n  "
            + "\n  ".join(lines)
            + "\nfix these variables (environment or env file) and start again"
        ) from None
