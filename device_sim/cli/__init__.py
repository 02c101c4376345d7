"""The simulator's `carewatch` commands (`sim`, `eval`, `demo`), registered through the entry
point group `carewatch.commands` (pyproject.toml): production code never imports them."""
