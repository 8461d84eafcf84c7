"""A plugin module imports jobline; that must not load the Kafka or PostgreSQL clients.

Plugins are imported by processes and tools that never touch Kafka (docs/architecture.md,
Layers). Each check runs in a fresh interpreter, as this test session has loaded them all.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("confluent_kafka", "psycopg", "psycopg_pool")


def modules_loaded_by(code: str) -> set[str]:
    """The top-level modules in sys.modules after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return {name.split(".", 1)[0] for name in out.split()}


def test_importing_jobline_and_plugin_loads_no_kafka_or_postgresql_client() -> None:
    loaded = modules_loaded_by("import jobline\nfrom jobline import Plugin, JobMeta, JobMessage")
    assert not loaded & set(HEAVY), f"loaded: {sorted(loaded & set(HEAVY))}"


def test_the_plugin_modules_load_no_kafka_or_postgresql_client() -> None:
    loaded = modules_loaded_by(
        "import jobline.plugins, jobline.plugins.meta, jobline.plugins.registry, jobline.job"
    )
    assert not loaded & set(HEAVY), f"loaded: {sorted(loaded & set(HEAVY))}"


def test_the_trigger_api_is_still_reachable_from_the_package_root() -> None:
    loaded = modules_loaded_by("from jobline import Jobs, ConfigJobs, JobTrigger, JobTooLarge")
    assert "confluent_kafka" in loaded  # loaded on first use, and only then
