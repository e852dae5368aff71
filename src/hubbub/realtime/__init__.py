"""The real-time side: sessions over WebSocket, their token lifecycle, and event fan-out.

``protocol`` (frames, close codes) and ``session`` do no I/O; ``chat`` runs commands against
the store; ``hub`` and ``broker`` carry events to sessions; ``web/gateway.py`` adapts it all to
Starlette's WebSocket. The protocol itself is documented in ``docs/protocol.md``.
"""
