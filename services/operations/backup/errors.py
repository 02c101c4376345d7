"""Why a backup or a restore stopped, each with a message that says what to do.

BackupError (a CareWatchError)
 ├── BadArchive          the file is not a CareWatch backup, or is truncated or corrupt
 ├── IncompatibleBackup  the backup needs another PostgreSQL, TimescaleDB or CareWatch
 ├── TargetNotEmpty      the target database already holds data (restore --force replaces it)
 └── ToolFailed          pg_dump or pg_restore failed; the message carries their error lines
"""

from services.errors import CareWatchError


class BackupError(CareWatchError):
    """Base of the backup and restore errors."""


class BadArchive(BackupError):
    pass


class IncompatibleBackup(BackupError):
    pass


class TargetNotEmpty(BackupError):
    pass


class ToolFailed(BackupError):
    pass
