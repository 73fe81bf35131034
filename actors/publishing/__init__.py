"""The publisher's logic: ZeroMQ topics, bodies and per-topic sequence numbers."""

from actors.publishing.core import Format, PublisherConfig, PublisherCore

__all__ = ["Format", "PublisherConfig", "PublisherCore"]
