"""Capabilities and the mode presets that name sets of them (DESIGN §3). Pure."""

from __future__ import annotations

from enum import StrEnum

from jobline.errors import ConfigError


class Capability(StrEnum):
    INTAKE = "intake"
    RUNNER = "runner"
    SCHEDULER = "scheduler"
    HTTP = "http"


# The order in which the server builds and starts each capability's services (and stops
# them in reverse): http first so that liveness answers while the rest starts; the
# runner's heartbeat before the runner; the intake last, so its first batch finds runners up.
START_ORDER = (Capability.HTTP, Capability.RUNNER, Capability.SCHEDULER, Capability.INTAKE)

MODES: dict[str, frozenset[Capability]] = {
    "all": frozenset(Capability),
    "jobs": frozenset({Capability.INTAKE, Capability.RUNNER, Capability.HTTP}),
    "scheduler": frozenset({Capability.SCHEDULER, Capability.HTTP}),
    "api": frozenset({Capability.HTTP}),
}


def resolve_capabilities(mode: str, capabilities: str) -> frozenset[Capability]:
    """An explicit capability list wins over the mode preset."""
    if capabilities.strip():
        names = [c.strip().lower() for c in capabilities.split(",") if c.strip()]
        known = {c.value for c in Capability}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ConfigError(
                f"JOBLINE_CAPABILITIES={capabilities!r}: unknown capability {unknown[0]!r}; "
                f"expected a comma list of {', '.join(sorted(known))}"
            )
        return frozenset(Capability(n) for n in names)
    preset = MODES.get(mode.strip().lower())
    if preset is None:
        raise ConfigError(
            f"JOBLINE_MODE={mode!r} is not a mode; expected one of {', '.join(MODES)}"
        )
    return preset
