"""Which Sync objects exist, and their SIDs: derived from the chat's own SIDs, so none is stored.

Twilio's SDKs read a channel through three objects (a document with its properties, a list of its
messages whose item index is the message index, a map of its members) and a user through two
(a map of their channels, a map of their name, attributes and reachability). Each object's SID
is a two-letter kind and the 32 hex digits of the channel or user it shows, so the kind and the
record are read back from the SID alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hubbub.sids import is_sid
from hubbub.store.records import CHANNEL, USER

ObjectType = Literal["document", "list", "map"]

#: Kinds of object: their SID prefix, their Sync type, and whether a channel or a user owns them.
CHANNEL_DOCUMENT = "ET"
MESSAGES = "ES"
ROSTER = "MP"
MY_CHANNELS = "MM"
USER_INFO = "MU"

TYPES: dict[str, ObjectType] = {
    CHANNEL_DOCUMENT: "document",
    MESSAGES: "list",
    ROSTER: "map",
    MY_CHANNELS: "map",
    USER_INFO: "map",
}
OWNERS = {
    CHANNEL_DOCUMENT: CHANNEL,
    MESSAGES: CHANNEL,
    ROSTER: CHANNEL,
    MY_CHANNELS: USER,
    USER_INFO: USER,
}
#: The path segment of each type in Sync's REST API (``/v3/Maps/...``).
PLURALS: dict[ObjectType, str] = {"document": "Documents", "list": "Lists", "map": "Maps"}


@dataclass(frozen=True, slots=True)
class Ref:
    """One Sync object: its kind and the SID of the channel or user it shows."""

    kind: str
    owner_sid: str

    @property
    def sid(self) -> str:
        return self.kind + self.owner_sid[2:]

    @property
    def type(self) -> ObjectType:
        return TYPES[self.kind]


def of(kind: str, owner_sid: str) -> str:
    """The SID of the ``kind`` object of the channel or user ``owner_sid``."""
    return kind + owner_sid[2:]


#: How twilio-chat names a channel's document when it has only the channel's SID (a public
#: channel it is not in): ``CH….channel``.
CHANNEL_SUFFIX = ".channel"


def parse(sid: str) -> Ref | None:
    """The object ``sid`` names, if it is one of ours."""
    if sid.endswith(CHANNEL_SUFFIX):
        channel_sid = sid.removesuffix(CHANNEL_SUFFIX)
        return Ref(CHANNEL_DOCUMENT, channel_sid) if is_sid(channel_sid, CHANNEL) else None
    kind = sid[:2]
    owner = OWNERS.get(kind)
    if owner is None:
        return None
    owner_sid = owner + sid[2:]
    return Ref(kind, owner_sid) if is_sid(owner_sid, owner) else None
