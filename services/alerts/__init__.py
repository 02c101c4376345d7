"""The alert service: the pure core (lifecycle, roster, escalation) and, around it, the I/O."""
