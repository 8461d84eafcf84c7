"""The job message: its model, JSON codec and limits (DESIGN §4). Pure: no I/O."""

from jobline.job.codec import decode_job, encode_job
from jobline.job.model import JobMessage, KeyMode

__all__ = ["JobMessage", "KeyMode", "decode_job", "encode_job"]
