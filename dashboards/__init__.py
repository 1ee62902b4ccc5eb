"""dashboards: the Panel control panel of dataflow — overview, runs, one run live, plugins and
their config forms, compare — served by `dataflow serve` (`app.build_pages`), by
`panel serve dashboards/app.py`, or inline in a notebook (`notebook.panel_for`)."""
