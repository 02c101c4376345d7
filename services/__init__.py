"""CareWatch services: settings, the local runtime, the database, the broker admin and the API."""
