"""The `dataflow` command line."""
