"""The referrals domain: model, values, commands, events and rules. No I/O, no frameworks."""
