"""Hyperliquid: number formatting, action wire format, signing, payload parsing and clients."""
