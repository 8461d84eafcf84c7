"""jobline side by side with Graphile Worker and PgQueuer, in one run, on one PostgreSQL.

`make bench-peers` (python -m benchmarks.peers) installs the peers (scripts/install-peers)
and runs the scenarios; `make bench-smoke` is the same at tiny N (part of `make test`).
Modules: procs.py (a measured subprocess), systems.py (how each system queues, runs and
triggers jobs), throughput.py, latency.py, table.py, main.py.
"""
