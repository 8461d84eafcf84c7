"""jobline side by side with Graphile Worker and PgQueuer, in one run, on one PostgreSQL.

`make bench-peers` (python -m benchmarks.peers) installs the peers (scripts/install-peers)
and runs the scenarios; `make bench-smoke` is the same at tiny N (part of `make test`).
Modules: __main__.py (arguments, rounds, the report), database.py (the run's own
databases), systems.py and jobline_system.py (how each system queues, runs and triggers
jobs; scenario 4's prefills), procs.py (a measured subprocess), scenarios.py (throughput,
with or without scenario 4's prefill; latency), table.py, profile.py (py-spy of one jobline
server), explain_fetch.py (the fetch's plan in scenario 4's tables), queued_store.py (what
named queues cost the store); the peers' own sides:
graphile_runner.js and pgqueuer_runner.py (run in their installs); latency_plugin.py
(jobline's latency job).
"""
