"""Backups of a CareWatch deployment: the database (pg_dump, one consistent snapshot), a
manifest, and the broker's device accounts; restore into an empty database."""
