"""Mosquitto administration: accounts and ACLs through the dynamic-security plugin."""
