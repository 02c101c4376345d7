"""The SQL of the API's routers, one module per router (`routes/alerts.py` ↔ `repos/alerts.py`):
keyword-only functions, one statement each, rows as plain values. The routers parse, authorise
(handing the caller's scope in as a fixed SQL fragment), call these and shape the response.
Routers whose resource has a room of its own call that room's instead (devices: `devices/repo.py`,
referrals: `referrals/store.py` and `queries.py`, vitals: `trends/queries.py`)."""
