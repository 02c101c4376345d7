"""The database: versioned migrations and connection helpers."""
