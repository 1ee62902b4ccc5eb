"""What runs inside a Dask task: the task function, attempts and retries, cancel flags,
checkpoints, cache, output capture, the context and services a plugin gets."""
