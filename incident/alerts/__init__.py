"""Monitoring alerts in: Alertmanager and Grafana webhooks, the possible-outage box, rules that declare."""
