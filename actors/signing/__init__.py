"""The signer's logic: nonces that only grow (across restarts) and batched action signing."""
