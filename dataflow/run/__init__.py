"""The orchestrating side of a run: plan, graph submission, run state, cancel, resume,
the supervisor thread, interrupted-run detection, the run's log file."""
