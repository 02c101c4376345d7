"""The local runtime: PostgreSQL + TimescaleDB and Mosquitto as child processes under a data dir."""
