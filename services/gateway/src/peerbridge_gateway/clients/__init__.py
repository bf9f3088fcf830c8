"""Ports to the services the gateway calls, and their adapters."""
