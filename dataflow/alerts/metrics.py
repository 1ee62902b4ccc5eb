"""Alert counters for /metrics, read from the dispatcher's stats at each scrape.

    dataflow_alerts_sent_total        deliveries that went through (per channel)
    dataflow_alerts_failed_total      deliveries that failed after every retry
    dataflow_alerts_collapsed_total   repeats folded into a summary
    dataflow_alerts_dropped_total     alerts dropped (queue full, or after stop)
    dataflow_alerts_queued            alerts waiting to be sent now
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from dataflow.alerts.dispatcher import FAILED_COUNT, AlertDispatcher

COUNTERS = (("sent", "dataflow_alerts_sent", "Alert deliveries that went through"),
            (FAILED_COUNT, "dataflow_alerts_failed",
             "Alert deliveries that failed after every retry"),
            ("collapsed", "dataflow_alerts_collapsed", "Repeated alerts folded into a summary"),
            ("dropped", "dataflow_alerts_dropped", "Alerts dropped: queue full, or after stop"))


class AlertCollector:
    def __init__(self, dispatcher: AlertDispatcher):
        self.dispatcher = dispatcher

    def describe(self):
        return []

    def collect(self):
        stats = self.dispatcher.stats()
        for key, name, text in COUNTERS:
            yield CounterMetricFamily(name, text, value=stats.get(key, 0))
        yield GaugeMetricFamily("dataflow_alerts_queued", "Alerts waiting to be sent",
                                value=stats.get("queued", 0))


def alert_metrics(registry: CollectorRegistry, dispatcher: AlertDispatcher) -> AlertCollector:
    """Register the alert counters of `dispatcher` on `registry`."""
    collector = AlertCollector(dispatcher)
    registry.register(collector)
    return collector
