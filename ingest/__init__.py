"""Ingest: MQTT messages from devices become validated readings stored in TimescaleDB."""
