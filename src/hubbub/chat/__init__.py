"""The chat domain: what every chat action means, whichever door it came through.

Each action (``channels``, ``members``, ``messages``, ``users``) is one function that checks
the actor's permissions, writes through the store and returns what it made with the events it
caused; REST handlers and real-time commands are thin adapters around them. Values
(``fields``), their rendering (``render``) and errors (``errors``) live here too, below every
door. See docs/architecture.md.
"""
