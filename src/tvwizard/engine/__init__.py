"""The engine: runs probes in the target interpreter and turns them into a report."""
