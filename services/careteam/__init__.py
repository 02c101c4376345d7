"""The care team: who works when (roster), the team document and its store."""
