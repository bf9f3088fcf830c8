"""peerbridge_platform."""
