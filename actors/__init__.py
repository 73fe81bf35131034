"""The runtime's actors: one per module, each a thin shell around a plain logic class."""
