"""The alert service: the pure core (lifecycle, escalation) and, around it, the I/O."""
