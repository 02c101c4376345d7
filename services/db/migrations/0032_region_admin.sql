-- Regions made and sites placed in them through the API (issue 18): POST /api/v1/regions and
-- PUT /api/v1/sites/{site}/region, for an administrator of every site.
GRANT INSERT ON regions TO carewatch_api;
GRANT UPDATE (region_id) ON sites TO carewatch_api;
