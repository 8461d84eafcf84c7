-- Named queues the fetch never walks. A job of a named queue may run only when it is its
-- queue's head (lowest id) and no job of its queue runs. Until now the fetch found that out
-- job by job while walking jobs_due_idx, so one queue 100,000 deep behind a running head
-- made every fetch walk 100,000 entries before reaching any other job (0.1-2 s a fetch).
-- Now each queue's lowest id carries `queue_head`, kept by the triggers below on every
-- insert, delete and change of queue (whoever writes: intake, runner, admin, an old
-- version during a rolling upgrade), and jobs_due_idx holds only jobs without a queue and
-- queue heads: a blocked queue costs the fetch at most one index entry.
--
-- The rules the triggers keep: the lowest id of every queue has queue_head = true, and so
-- has every job of a queue that runs (the fetch takes only flagged rows, and nothing
-- clears the flag of a locked row). A row may keep a stale true (a head that a failed job,
-- put back under its old and lower id, came in ahead of): harmless, the fetch checks the
-- exact rule for each flagged candidate.

ALTER TABLE jobs ADD COLUMN queue_head boolean NOT NULL DEFAULT false;

-- Each queue's lowest id, and any job of a queue that runs now (a failed job put back
-- under its lower id may have come in ahead of it): the fetch reads "a job of this queue
-- runs" from the flagged rows only.
UPDATE jobs SET queue_head = true
WHERE queue_name IS NOT NULL
  AND (locked_by IS NOT NULL
       OR id IN (SELECT min(id) FROM jobs WHERE queue_name IS NOT NULL GROUP BY queue_name));

-- Rebuilt under the same name with the new predicate (the build holds the table's lock
-- for its time: seconds per million rows). During a rolling upgrade the old version's
-- fetch no longer matches it: correct, but a scan and sort of the due jobs per fetch,
-- until the old runners are replaced.
DROP INDEX jobs_due_idx;
CREATE INDEX jobs_due_idx ON jobs (priority, run_at, id)
    WHERE locked_by IS NULL AND (queue_name IS NULL OR queue_head);

-- The flagged rows: one or two per queue. The fetch checks each candidate head against
-- them in one probe ("is another flagged row of its queue lower, or running?"), whatever
-- the statistics say about the queue's size.
CREATE INDEX jobs_queue_head_idx ON jobs (queue_name, id) WHERE queue_head;

-- Changes to queue heads take turns on one lock per schema, held to the end of the
-- transaction: an insert into a queue and the deletion of its head must not miss each other
-- (each would see the other's row still there, or not yet, and neither would mark the new
-- head). After the lock, each statement of these functions reads a fresh snapshot, so it
-- sees what the transaction before it committed. One lock, not one per queue: locks per
-- queue taken row by row would deadlock between two statements that touch several queues
-- in different orders (an intake batch, a completion batch), routinely. (With row locks a
-- rare cycle remains, e.g. a used-up keyed job moved to failed_jobs while a trigger with
-- its key comes in: PostgreSQL breaks it after deadlock_timeout and the intake or runner
-- retries its batch, as after any failed statement.) Jobs without a queue never take it.
-- The functions' `search_path` is the schema the migration runs in, whoever's connection
-- fires them.

-- A job joins a queue (inserted, or moved by a job key's `replace`): it is the head when
-- no job of the queue has a lower id. Earlier rows of the same statement count.
CREATE FUNCTION jobs_queue_head_on_join() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('jobline.queue_heads'), hashtext(TG_TABLE_SCHEMA));
    NEW.queue_head := NEW.queue_name IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM jobs q WHERE q.queue_name = NEW.queue_name AND q.id < NEW.id);
    RETURN NEW;
END
$$;

-- A head left its queue (completed, failed for good, cancelled, moved): the lowest id left
-- is the new head. AFTER the statement's rows, so that no row this marks is one the same
-- statement still has to change.
CREATE FUNCTION jobs_queue_head_on_leave() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('jobline.queue_heads'), hashtext(TG_TABLE_SCHEMA));
    UPDATE jobs SET queue_head = true
    WHERE id = (SELECT min(q.id) FROM jobs q WHERE q.queue_name = OLD.queue_name)
      AND NOT queue_head;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_queue_head_inserted BEFORE INSERT ON jobs
    FOR EACH ROW WHEN (NEW.queue_name IS NOT NULL)
    EXECUTE FUNCTION jobs_queue_head_on_join();

CREATE TRIGGER jobs_queue_head_moved_in BEFORE UPDATE OF queue_name ON jobs
    FOR EACH ROW WHEN (OLD.queue_name IS DISTINCT FROM NEW.queue_name)
    EXECUTE FUNCTION jobs_queue_head_on_join();

CREATE TRIGGER jobs_queue_head_deleted AFTER DELETE ON jobs
    FOR EACH ROW WHEN (OLD.queue_name IS NOT NULL AND OLD.queue_head)
    EXECUTE FUNCTION jobs_queue_head_on_leave();

CREATE TRIGGER jobs_queue_head_moved_out AFTER UPDATE OF queue_name ON jobs
    FOR EACH ROW WHEN (OLD.queue_name IS NOT NULL AND OLD.queue_head
                       AND OLD.queue_name IS DISTINCT FROM NEW.queue_name)
    EXECUTE FUNCTION jobs_queue_head_on_leave();
