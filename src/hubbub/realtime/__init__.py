"""The real-time side: sessions over WebSocket, their token lifecycle, and event fan-out.

``protocol`` (frames, close codes), ``session`` and ``commands`` do no I/O beyond the store;
``link`` drives one connection's session and ``node`` holds what a process's connections
share (the hub, the broker, timers, group commit, presence); the adapters to the network are
``web/ws_uvicorn.py`` and ``web/ws_asgi.py``. The protocol is documented in
``docs/protocol.md``.
"""
