"""How the dashboard is exposed: JOBLINE_DASHBOARD_* (auth, read-only, masking)."""

from __future__ import annotations

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobline.errors import ConfigError


class DashboardOptions(BaseSettings):
    """Read from the environment by `jobline dashboard`; pass one to `create_app` when
    mounting the dashboard in another ASGI app."""

    model_config = SettingsConfigDict(env_prefix="JOBLINE_DASHBOARD_", extra="ignore", frozen=True)

    #: every change is refused (403) and no action button is shown
    read_only: bool = False
    #: HTTP basic auth: both set, or neither
    user: str = ""
    password: SecretStr = SecretStr("")
    #: behind an auth proxy: the header naming the signed-in user (requests without it: 401)
    trusted_header: str = ""
    #: payload fields shown as *** (comma list of field names, at any depth)
    mask_fields: str = ""
    #: seconds between two samples of the gauges (also sampled at once on each NOTIFY)
    sample_interval_s: float = 2.0

    @property
    def masked(self) -> frozenset[str]:
        return frozenset(f.strip() for f in self.mask_fields.split(",") if f.strip())

    def check(self) -> None:
        if bool(self.user) != bool(self.password.get_secret_value()):
            raise ConfigError(
                "JOBLINE_DASHBOARD_USER and JOBLINE_DASHBOARD_PASSWORD go together: set both "
                "for basic auth, or neither"
            )


def load_options(**overrides: object) -> DashboardOptions:
    try:
        options = DashboardOptions(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"invalid JOBLINE_DASHBOARD_* setting: {exc}") from None
    options.check()
    return options
