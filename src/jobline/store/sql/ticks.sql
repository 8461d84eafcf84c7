-- Named queries of the scheduler's ticks (store/ticks.py).

-- name: claim_tick
-- Insert the tick, or take over a claim that was never fired and is older than
-- reclaim_after (its scheduler died between claim and fire). A row comes back only to
-- the scheduler that now owns the tick; everyone else gets nothing and moves on.
INSERT INTO scheduler_ticks (task, tick_at, claimed_by)
VALUES (%(task)s, %(tick_at)s, %(scheduler_id)s)
ON CONFLICT (task, tick_at) DO UPDATE
SET claimed_by = EXCLUDED.claimed_by, claimed_at = now()
WHERE scheduler_ticks.fired_at IS NULL
  AND (scheduler_ticks.claimed_by = EXCLUDED.claimed_by
       OR scheduler_ticks.claimed_at < now() - make_interval(secs => %(reclaim_after_s)s))
RETURNING tick_at

-- name: previous_tick
-- The tick fired before this one, to count the ticks nobody fired in between.
SELECT max(tick_at) FROM scheduler_ticks WHERE task = %(task)s AND tick_at < %(tick_at)s

-- name: mark_fired
UPDATE scheduler_ticks SET fired_at = now(), jobs = %(jobs)s
WHERE task = %(task)s AND tick_at = %(tick_at)s AND claimed_by = %(scheduler_id)s

-- name: prune_ticks
-- Old ticks only serve the gap count above; keep two days.
DELETE FROM scheduler_ticks WHERE task = %(task)s AND tick_at < now() - interval '2 days'
