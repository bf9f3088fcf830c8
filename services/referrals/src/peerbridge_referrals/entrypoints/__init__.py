"""Entry points: the gRPC server and the process that runs it."""
