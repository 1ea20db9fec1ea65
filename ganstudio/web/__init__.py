"""HTTP layer: pages (Jinja + htmx) and the JSON API share the same services."""
