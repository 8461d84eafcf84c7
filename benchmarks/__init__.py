"""Benchmarks of jobline (not tests): run them by hand, see docs/benchmarks.md."""
