-- Every job is inserted, updated (locked) and deleted: the table is mostly dead rows
-- unless vacuum keeps up. Vacuum it after a small share of changes, without throttling,
-- and keep its statistics fresh. (The fetch's plan does not depend on them; the other
-- queries' plans do.)
ALTER TABLE jobs SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.05,
    autovacuum_vacuum_cost_delay = 0
);
