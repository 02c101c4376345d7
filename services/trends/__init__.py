"""Vitals trends: which source answers a range (`plan`, pure), the rollups that make long ranges
cheap and their refresh (`refresh`), and the queries (`queries`)."""
