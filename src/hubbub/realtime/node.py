"""The real-time side of one server process: what its connections share.

A ``Node`` holds the hub (who is connected here, to what), the broker (events to and from the
other processes), the chat core, the executor that runs store calls, group commit, presence,
and every deadline of every connection in one heap (``realtime.timers``): authentication,
token warning and expiry, typing. One sweep a second ends the sessions whose API key was
revoked. Output is gathered per connection and written once per turn of the loop.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from hubbub.chat.core import Core, Hooks, NoHooks
from hubbub.chat.events import Event
from hubbub.chat.keys import KeyRing
from hubbub.chat.lookups import Lookups
from hubbub.chat.render import Urls
from hubbub.metrics import Metrics
from hubbub.notify.notifier import PushNotifier
from hubbub.realtime.commands import Commands, Identity
from hubbub.realtime.commits import Commits
from hubbub.realtime.executor import Executor, Threaded, for_backend
from hubbub.realtime.hub import Broker, Hub, MemoryBroker
from hubbub.realtime.presence import RENEW, Presence
from hubbub.realtime.session import DEFAULT_WARNING, KEY_CHECK_INTERVAL
from hubbub.realtime.timers import Entry, Timers
from hubbub.store import Store
from hubbub.sync.journal import RETENTION, Journal

if TYPE_CHECKING:
    from hubbub.realtime.link import Link

log = logging.getLogger("hubbub.gateway")

#: Bytes waiting to be sent to a client above which its commands wait, unread, until it has
#: read some of them: a client that does not read cannot make the server buffer more replies.
OUTPUT_PAUSE = 256 * 1024
#: Bytes waiting to be sent to a client above which it is cut off (1013): room for a whole page
#: of history (about 2 MiB, ``commands.REPLY_BUDGET``) and the events that come meanwhile.
OUTPUT_LIMIT = 4 * 1024 * 1024
#: Sessions one identity may have open on one process at a time.
SESSIONS_PER_IDENTITY = 20
#: Threads for the frames of services with a pre-event webhook, each waiting up to 5 s (times
#: the retries) on the receiver.
CALLING_OUT_THREADS = 64
#: Idle connections are pinged this often; one silent for two rounds is dropped.
PING_INTERVAL = 30.0
#: How often the Sync journal forgets (a batch of) events older than its retention.
PRUNE_INTERVAL = 10.0
_COMMANDS_CACHE = 64


class Node:
    """What the gateway shares across the connections of one process."""

    def __init__(
        self,
        store: Store,
        keys: KeyRing,
        *,
        broker: Broker | None = None,
        executor: Executor | None = None,
        warning: float = DEFAULT_WARNING,
        clock: Callable[[], float] = time.time,
        public_url: str | None = None,
        metrics: Metrics | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        """``public_url``, when given, is where every URL in what is sent points, whatever
        Host a client's handshake named; without it, each connection's own Host is used."""
        self.store = store
        self.public_url = public_url
        self.metrics = metrics or Metrics()
        self.keys = keys
        self.hub = Hub()
        self.broker = broker or MemoryBroker()
        self.executor = executor or for_backend(store.backend)
        #: For the actions that may wait on the network (a pre-event webhook): off the loop, in
        #: threads of their own, so that slow receivers cannot hold up the store's work.
        self.calling_out: Executor = Threaded(CALLING_OUT_THREADS)
        self.warning = warning
        self.clock = clock
        #: permessage-deflate for clients that offer it (~35 KiB of zlib state a connection).
        self.compression = False
        #: Output (bytes) beyond which a connection's commands wait, and it is cut off.
        self.output_pause = OUTPUT_PAUSE
        self.output_limit = OUTPUT_LIMIT
        self.sessions_per_identity = SESSIONS_PER_IDENTITY
        self.lookups = Lookups(store)
        self.notifier = PushNotifier(store)
        self.core = Core(store, self.lookups, hooks or NoHooks(), Journal(clock), self.notifier)
        self.commits = Commits(store, self.executor, self.metrics)
        self.presence = Presence(
            store, self.hub, self.executor, self.publish, clock, self._presence_urls
        )
        self.timers = Timers()
        self.by_key: dict[str, set[Link]] = {}
        self.links: set[Link] = set()
        self.typing: dict[tuple[str, str], Entry] = {}
        #: The loop the connections, the hub and the broker live on: set when the app starts,
        #: or by the first connection.
        self.loop: asyncio.AbstractEventLoop | None = None
        self._commands: dict[str, Commands] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._armed = float("inf")
        self._sweeping = False
        self._last_ping = 0.0
        self._last_lease = 0.0
        self._last_prune = 0.0
        self._corked: list[Callable[[], None]] = []
        self.broker.subscribe(self._deliver)
        self.broker.subscribe(self.lookups.observe)
        self.broker.subscribe(self.notifier.observe)
        self.broker.watch_lag(self.metrics.broker_lag_seconds.observe)
        self.broker.watch_gaps(self.events_lost)

    def executor_for(self, who: Identity | None) -> Executor:
        """Where a session's frames run: apart if its service has a pre-event webhook, which
        may take seconds to answer."""
        if who is None:
            return self.executor
        try:
            calls_out = self.core.hooks.calls_out(who.account_sid, who.service_sid)
        except Exception:  # the store, for a moment: the frame itself will say what it is
            log.exception("reading a service's webhooks failed")
            calls_out = False
        return self.calling_out if calls_out else self.executor

    def commands_for(self, base_url: str) -> Commands:
        """One ``Commands`` per base URL (the public URL, or else the Host header of the
        handshake): not one per connection."""
        base_url = self.public_url or base_url
        commands = self._commands.get(base_url)
        if commands is None:
            commands = Commands(self.store, self.keys, Urls(base_url), core=self.core)
            if len(self._commands) < _COMMANDS_CACHE:  # the Host header is the client's
                self._commands[base_url] = commands
        return commands

    def _presence_urls(self) -> Urls:
        """Where the URLs of a push not caused by a request point: the public URL, else the
        base URL of some connection here."""
        if self.public_url:
            return Urls(self.public_url)
        for commands in self._commands.values():
            return commands.urls
        return Urls("http://localhost")

    def holders(self) -> list[tuple[Commands, Identity, list[str]]]:
        """A connection of each user connected here, with who they are and their channels."""
        held: dict[tuple[str, str], tuple[Commands, Identity, list[str]]] = {}
        for link in self.links:
            who = link.session.who
            if link.registered and who is not None:
                key = (who.service_sid, who.identity)
                if key not in held:
                    held[key] = (link.session.commands, who, self.hub.channels_of(link))
        return list(held.values())

    async def stop(self) -> None:
        """This process stops: its users who are connected nowhere else go offline now, not
        when its lease runs out."""
        try:
            events = await self.executor.run(self.presence.leave, self.core)
        except Exception:
            log.exception("leaving the presence of other nodes failed")
            return
        for event in events:
            self.broker.publish(event)

    def events_lost(self) -> None:
        """Events from other processes were lost: the connections that can catch up on what
        they missed are told so (``Link.missed``)."""
        log.warning(
            "events from other processes may have been lost; clients that can catch up will"
        )
        for link in list(self.links):
            link.missed()

    def _deliver(self, event: Event) -> None:
        started = time.perf_counter()
        self.hub.deliver(event)
        self.metrics.fanout_seconds.observe(time.perf_counter() - started)

    # -- events --------------------------------------------------------------------------------
    def publish(self, events: list[Event]) -> None:
        """Hand ``events`` to the broker; a lapsing state (typing) gets its end scheduled."""
        for event in events:
            self.broker.publish(event)
            if event.ends_after is not None:
                self._schedule_end(event)

    def publish_from_any_thread(self, event: Event) -> None:
        """``broker.publish`` for REST handlers, which run in the thread pool on PostgreSQL:
        the hub and the broker are the event loop's, so the event is handed over to it."""
        loop = self.loop
        if loop is not None and not _running(loop):
            loop.call_soon_threadsafe(self.broker.publish, event)
        else:  # on the loop, or no loop yet, so no connection either
            self.broker.publish(event)

    def _schedule_end(self, event: Event) -> None:
        """Publish ``<state>_ended`` once ``event`` lapses, unless it is renewed before."""
        key = (event.frame["channel_sid"], event.frame["identity"])
        Timers.cancel(self.typing.pop(key, None))
        kind = event.frame["type"].removesuffix("_started")
        ended = Event(event.audience, {**event.frame, "type": f"{kind}_ended"})

        def end() -> None:
            self.typing.pop(key, None)
            self.broker.publish(ended)

        self.typing[key] = self.schedule(self.clock() + (event.ends_after or 0.0), end)

    # -- writes ----------------------------------------------------------------------------------
    def cork(self, flush: Callable[[], None]) -> None:
        """A connection has output: ``flush`` writes it all in one once this turn of the loop
        is done (a busy sender's reply and the echoes of its channel go out in one call)."""
        if not self._corked:
            asyncio.get_running_loop().call_soon(self._uncork)
        self._corked.append(flush)

    def _uncork(self) -> None:
        corked, self._corked = self._corked, []
        for flush in corked:
            flush()

    # -- time --------------------------------------------------------------------------------
    def schedule(self, when: float, callback: Callable[[], None]) -> Entry:
        """Call ``callback`` at ``when`` (on ``clock``) from the event loop."""
        entry = self.timers.push(when, callback)
        if not self._sweeping:
            self._sweeping = True
            sweep = self.clock() + KEY_CHECK_INTERVAL
            self.timers.push(sweep, self._sweep)
            when = min(when, sweep)
        if when < self._armed:
            self._arm(when)
        return entry

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed = when
        delay = max(0.0, when - self.clock())
        self._handle = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._armed = float("inf")
        for callback in self.timers.pop_due(self.clock()):
            try:
                callback()
            except Exception:
                log.exception("a real-time timer failed")
        upcoming = self.timers.next()
        if upcoming is not None and upcoming < self._armed:
            self._arm(upcoming)

    def _sweep(self) -> None:
        """Once a second: end the sessions whose API key is revoked; now and then, ping."""
        now = self.clock()
        self.timers.push(now + KEY_CHECK_INTERVAL, self._sweep)
        for key_sid, links in list(self.by_key.items()):
            some = next(iter(links), None)
            who = some.session.who if some is not None else None
            # Asked of the store, not the key ring's copy: a key revoked by another process
            # ends its sessions here within this second.
            self.keys.forget(key_sid)
            if some is not None and who is not None and not some.session.commands.key_alive(who):
                for link in list(links):
                    link.perform(link.session.revoke())
        if now - self._last_lease >= RENEW:
            self._last_lease = now
            self.presence.renew(self.core, self.holders)
        if now - self._last_prune >= PRUNE_INTERVAL:
            self._last_prune = now
            self.executor.submit(
                lambda: self.store.prune_events(before=now - RETENTION), (), _pruned
            )
        if now - self._last_ping >= PING_INTERVAL:
            self._last_ping = now
            for link in list(self.links):
                link.transport.keepalive(now)


def _pruned(done: object) -> None:
    if isinstance(done, Exception):
        log.error("pruning the Sync journal failed", exc_info=done)


def settle_gc() -> None:
    """Move what the server built at startup out of the garbage collector's sight, and make
    full collections rarer: with thousands of long-lived connection objects, the default
    thresholds make the collector walk them all over and over."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def _running(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether this thread is running ``loop``."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
