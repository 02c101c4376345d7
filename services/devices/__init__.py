"""Devices: provisioning (credentials at the broker, a hash in the database) and assignment."""
