"""The web face of dataflow: one Tornado/Bokeh server hosting the Panel control panel,
the REST API, /health and /metrics, over the same RunService as every other face."""
