"""Alerts: delivering the alert rows a run queued, to webhooks and e-mail, exactly once."""

from sitewatch.alerts.delivery import SIGNATURE_HEADER, DeliveryReport, deliver_pending, describe_target, payload, sign

__all__ = ["SIGNATURE_HEADER", "DeliveryReport", "deliver_pending", "describe_target", "payload", "sign"]
