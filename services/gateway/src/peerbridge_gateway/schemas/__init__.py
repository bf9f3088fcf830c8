"""The JSON shapes of the HTTP API."""
