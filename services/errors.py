"""Errors the services raise on purpose, each with a message that says how to fix it.

CareWatchError
 ├── ConfigError         settings missing or invalid (bad URL, default secret outside local mode)
 ├── SetupError          something the machine lacks: a binary, a free port, a writable dir
 ├── ServiceError        an embedded service (PostgreSQL, Mosquitto) failed to start or stop
 ├── BrokerAdminError    the broker refused or did not answer a dynamic-security command
 └── LegacyStateError    stored state in the binary format of earlier releases: upgrade first
"""


class CareWatchError(Exception):
    """Base of every error CareWatch raises on purpose."""


class ConfigError(CareWatchError):
    pass


class SetupError(CareWatchError):
    pass


class ServiceError(CareWatchError):
    pass


class BrokerAdminError(CareWatchError):
    pass


class LegacyStateError(CareWatchError):
    """A service found state it no longer reads (format 1, the binary format before JSON):
    `carewatch upgrade-state` rewrites it, once. The service neither reads nor drops it."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} in the binary format of an earlier release (format 1), which this "
            "service does not read: run `carewatch upgrade-state` once (with the database "
            "owner's settings, as `carewatch migrate`), then start the service again"
        )
