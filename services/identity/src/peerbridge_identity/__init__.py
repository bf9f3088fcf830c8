"""peerbridge_identity: people, roles, organizations, partner clients, supporter eligibility."""
