"""Indicators of a site over a date range (issue 18): the pure figures (`figures`), the rows
they are computed from (`store`). docs/indicators.md defines each figure."""
