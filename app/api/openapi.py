"""GET /api/openapi.json (filled in below)."""
