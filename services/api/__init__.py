"""The HTTP API (FastAPI): thin routers, one per resource, built by `create_app`."""
