"""RFC 6455 client frames, built in one step for the order path.

websocket-client's ``send`` builds an ``ABNF`` object, validates it, formats the header with
``struct`` and masks the payload through ``array`` conversions: a dozen Python calls per frame,
which on a cold CPU cost more than the system call. A post on the order path is one small text
frame, so it is framed here (FIN, text opcode, the client mask RFC 6455 §5.3 requires, from
``os.urandom``) and written with one ``sendall`` under websocket-client's own send lock, which
its reader thread also takes to answer pings.
"""

from __future__ import annotations

import os
import struct

_TEXT_FIN = 0x81
_MASKED = 0x80


def masked_text_frame(payload: bytes, mask: bytes | None = None) -> bytes:
    """One final text frame carrying ``payload``, masked with ``mask`` (4 random bytes when
    not given)."""
    if mask is None:
        mask = os.urandom(4)
    elif len(mask) != 4:
        raise ValueError("a WebSocket mask is 4 bytes")
    n = len(payload)
    if n < 126:
        header = bytes((_TEXT_FIN, _MASKED | n))
    elif n < 65_536:
        header = struct.pack("!BBH", _TEXT_FIN, _MASKED | 126, n)
    else:
        header = struct.pack("!BBQ", _TEXT_FIN, _MASKED | 127, n)
    if n == 0:
        return header + mask
    key = mask * (n // 4 + 1)
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key[:n], "big")).to_bytes(n, "big")
    return header + mask + masked
