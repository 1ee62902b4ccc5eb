"""The Dask cluster: a LocalCluster or a scheduler address, worker setup, CPU governor,
resource monitor."""
