"""peerbridge_devstack."""
