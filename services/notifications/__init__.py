"""Notifications: the durable outbox, the delivery loop and its retry policy."""
