"""One-time upgrades of stored state, run as `carewatch upgrade-state` before the services
start (registered through the `carewatch.commands` entry points, like the simulator's
commands): nothing in `services`, `ingest` or `rules` imports this package."""
