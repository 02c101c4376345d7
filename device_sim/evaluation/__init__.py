"""Replaying labelled scenarios through the rule engine and scoring what it raises."""
