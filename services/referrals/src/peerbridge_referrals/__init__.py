"""peerbridge_referrals."""
