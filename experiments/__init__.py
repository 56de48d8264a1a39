"""Experiments: scenario files, the runner (seeds, replications, output directory),
figures, summary tables and the `povsim` command line."""
