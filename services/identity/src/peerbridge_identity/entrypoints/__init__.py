"""Entry points: the gRPC server, the scheduled eligibility review, and the process."""
