"""Scheduler: plugins' scheduled tasks become jobs, each tick once (DESIGN §11)."""

from jobline.scheduler.schedule import Every, Schedule
from jobline.scheduler.service import SchedulerService, SchedulerSettings, plan_tasks

__all__ = ["Every", "Schedule", "SchedulerService", "SchedulerSettings", "plan_tasks"]
