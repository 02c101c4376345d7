"""Errors the device simulator raises on purpose, each with a message that says what to check.

SimulatorError
 ├── BrokerRefused      the broker answered CONNACK with a failure: bad credentials, not
 │                      authorised, banned client id, ... (`reason` holds its reason code name)
 ├── BrokerUnreachable  no MQTT broker answered at host:port (refused, DNS, timeout, TLS)
 ├── AckTimeout         the broker acknowledged none of a device's QoS 1 publishes for the
 │                      whole bounded wait while its in-flight cap was reached
 ├── DevicesFileError   the devices file is missing, unreadable or not in the expected shape
 └── DevicesInUse       another simulator already runs these devices
"""


class SimulatorError(Exception):
    """Base of every error the simulator raises on purpose."""


class BrokerRefused(SimulatorError):
    """The broker refused a device's connection (its CONNACK carried a failure reason)."""

    reason: str

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class BrokerUnreachable(SimulatorError):
    pass


class AckTimeout(SimulatorError):
    pass


class DevicesFileError(SimulatorError):
    pass


class DevicesInUse(SimulatorError):
    """Another simulator already runs these devices (one MQTT connection per device id)."""
