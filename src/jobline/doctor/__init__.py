"""`jobline doctor`: the on-call runbook as checks, each with evidence, meaning and action."""
