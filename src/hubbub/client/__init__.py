"""hubbub's Python SDK: an asyncio client for the real-time protocol (``docs/protocol.md``).

```python
client = await ChatClient.create(token, url="ws://127.0.0.1:8080/v1/ws")
client.on("message_added", lambda message: print(message.author, message.body))
channel = await client.get_channel_by_unique_name("general")
await channel.send_message("hello")
await channel.send_message(media="photo.png")  # a file: uploaded, then sent
await client.shutdown()
```

The sans-I/O parts (``protocol``, ``policy``, ``pacing``, ``timeline``) decide; ``connection``
and ``client`` do the waiting.
"""

from hubbub.client.channel import Channel, MessagePage, Paginator
from hubbub.client.client import DEFAULT_URL, ChatClient, TokenProvider
from hubbub.client.errors import ChatError, CommandTimeout, FrameTooLarge, NotConnected
from hubbub.client.events import EVENTS, ConnectionState
from hubbub.client.media import Media
from hubbub.client.models import Member, Message, Typing, User
from hubbub.client.pacing import Pacer
from hubbub.client.policy import Backoff

__all__ = [
    "DEFAULT_URL",
    "EVENTS",
    "Backoff",
    "Channel",
    "ChatClient",
    "ChatError",
    "CommandTimeout",
    "ConnectionState",
    "FrameTooLarge",
    "Media",
    "Member",
    "Message",
    "MessagePage",
    "NotConnected",
    "Pacer",
    "Paginator",
    "TokenProvider",
    "Typing",
    "User",
]
