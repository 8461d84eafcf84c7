-- Scheduled tasks: one row per (task, tick). Any number of schedulers race to insert it;
-- the one whose insert wins fires the tick, so each tick fires once without a leader.
-- A claim that was never marked fired (its scheduler died mid-way) may be taken over.
CREATE TABLE scheduler_ticks (
    task       text        NOT NULL,   -- '<plugin>/<task name>'
    tick_at    timestamptz NOT NULL,
    claimed_by text        NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    fired_at   timestamptz,
    jobs       integer,                 -- jobs triggered for this tick
    PRIMARY KEY (task, tick_at)
);
