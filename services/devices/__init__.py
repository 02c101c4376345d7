"""Devices: provisioning (credentials at the broker, a hash in the database), assignment,
retirement, and the live conformance check (`carewatch device check`)."""
