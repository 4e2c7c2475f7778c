"""The HTTP interface: a FastAPI app over one engine, its routes, schemas and the page."""
