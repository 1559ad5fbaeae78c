"""Notifiers: named channels that escalations and resolves go to."""

from medic.notify.base import Notification, Notifier, notifiers

__all__ = ["Notification", "Notifier", "notifiers"]
