"""Use cases of the identity service: handlers over an abstract unit of work."""
