"""The streaming detector: the device stream in, rule state in memory, alert candidates out."""
