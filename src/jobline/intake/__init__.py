"""Intake: Kafka topic `jobs` -> jobs DB, exactly once (DESIGN §5)."""

from jobline.intake.service import IntakeService
from jobline.intake.settings import IntakeSettings

__all__ = ["IntakeService", "IntakeSettings"]
