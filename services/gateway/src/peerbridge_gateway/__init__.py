"""peerbridge_gateway."""
