"""The limits of a job message's fields, and the jobs-DB column each one must fit. Pure.

Names are limited in UTF-8 bytes, not characters: what PostgreSQL stores and indexes is
bytes, and a btree index entry holds at most about 2,700 bytes (a 1,000-character key of
4-byte characters would not fit). Every numeric range below sits inside its column type,
so a value the codec accepts is a value the jobs DB stores.
"""

from __future__ import annotations

from datetime import UTC, datetime

#: job type (`type`), UTF-8 bytes; column `type text`, indexed with the plugin config
MAX_TYPE_BYTES = 200
#: job key (`jobKey`), UTF-8 bytes; column `key text`, indexed with the plugin config
MAX_KEY_BYTES = 1000
#: queue name (`queue`), UTF-8 bytes; column `queue_name text`, indexed
MAX_QUEUE_BYTES = 200

# PostgreSQL's integer column types.
SMALLINT_MIN, SMALLINT_MAX = -(2**15), 2**15 - 1
INTEGER_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1

#: pluginConfigId (>= 1) and pluginConfigTeam (>= 0): bigint columns
DB_INT_MAX = BIGINT_MAX
#: priority: a smallint column; lower runs first
PRIORITY_MIN, PRIORITY_MAX = -1000, 1000
#: maxAttempts: an integer column
MAX_ATTEMPTS_MAX = 1000

# 9999-12-31: anything later is a unit mistake (seconds vs. ms vs. µs), not a date, and
# it is far inside timestamptz (up to the year 294276).
MAX_TIMESTAMP_MS = 253_402_300_799_000

#: the most digits of an integer inside a payload or extra field: the JSON parser's and
#: Python's int-to-text limit (`sys.int_max_str_digits`), far below jsonb's 131,072
MAX_INT_DIGITS = 4300

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
