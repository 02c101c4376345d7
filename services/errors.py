"""Errors the services raise on purpose, each with a message that says how to fix it.

CareWatchError
 ├── ConfigError         settings missing or invalid (bad URL, default secret outside local mode)
 ├── SetupError          something the machine lacks: a binary, a free port, a writable dir
 ├── ServiceError        an embedded service (PostgreSQL, Mosquitto) failed to start or stop
 └── BrokerAdminError    the broker refused or did not answer a dynamic-security command
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
