"""Intake: Kafka topic `jobs` -> jobs DB, exactly once (DESIGN §5)."""

from jobline.intake.service import IntakeService, IntakeSettings

__all__ = ["IntakeService", "IntakeSettings"]
