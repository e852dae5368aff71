// hubbub's browser client: the real-time protocol of docs/protocol.md, as an ES module.
//
// It mirrors the Python SDK (hubbub.client): the same commands, the same event names (as
// strings, snake_case), the same behaviour on close codes (reconnect with backoff, fetch a new
// token first when the old one is refused, give up when trying again cannot help), token
// renewal in place on `token_about_to_expire`, and catch-up by message index after a
// reconnect so that no message is missed or repeated. Methods are camelCase, as is usual in
// JavaScript; docs/browser.md lists them.

/** Every event an application can listen to, with the Python SDK's names. */
export const EVENTS = Object.freeze([
  "connection_state_changed",
  "token_about_to_expire",
  "token_expired",
  "channel_added",
  "channel_joined",
  "channel_left",
  "channel_invited",
  "channel_updated",
  "channel_removed",
  "message_added",
  "message_updated",
  "message_removed",
  "member_joined",
  "member_left",
  "member_updated",
  "typing_started",
  "typing_ended",
  "user_updated",
]);

export const ConnectionState = Object.freeze({
  CONNECTING: "connecting",
  CONNECTED: "connected",
  DISCONNECTED: "disconnected",
  DENIED: "denied",
});

/** The largest frame the server accepts, in bytes of UTF-8. */
export const MAX_FRAME = 64 * 1024;
/** Messages per command when catching up after a reconnect (the server's maximum). */
const CATCH_UP_PAGE = 100;
/** A connection that stayed up this long (ms) resets the backoff; one that flaps does not. */
const STABLE_AFTER = 30000;
/** Delays (s) between attempts to renew a token when the provider or the server failed. */
const RENEW_BACKOFF = { initial: 1, cap: 20 };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A command the server answered with an error, in Twilio's shape. */
export class ChatError extends Error {
  constructor(error) {
    super(error?.message || "the server refused the command");
    this.name = "ChatError";
    this.code = error?.code ?? null;
    this.status = error?.status ?? null;
    this.moreInfo = error?.more_info ?? null;
  }
}

/** The client is not connected (and did not reconnect within the timeout). */
export class NotConnected extends Error {
  constructor(message) {
    super(message);
    this.name = "NotConnected";
  }
}

/** No reply in time. */
export class CommandTimeout extends Error {
  constructor(message) {
    super(message);
    this.name = "CommandTimeout";
  }
}

// -- close codes and what to do after them (hubbub.client.policy) ------------------------------
const TOKEN_CODES = new Set([4001, 4002, 4003]);
const FATAL_CODES = new Set([4004, 4008, 4009, 1002, 1003, 1007, 1008, 1009, 1010]);

/** "stop", "reconnect", "refresh" (a new token, then reconnect), "denied" or "give up". */
export function afterClose(code, canRefresh) {
  if (code === 1000) return "stop";
  if (TOKEN_CODES.has(code)) return canRefresh ? "refresh" : "denied";
  if (FATAL_CODES.has(code)) return "give up";
  return "reconnect";
}

/** Exponential, capped and jittered delays (seconds) between reconnection attempts. */
export class Backoff {
  constructor({ initial = 0.5, cap = 30, factor = 2 } = {}) {
    this.initial = initial;
    this.cap = cap;
    this.factor = factor;
    this.reset();
  }

  nextDelay() {
    const ceiling = this._ceiling;
    this._ceiling = Math.min(this.cap, ceiling * this.factor);
    this.attempts += 1;
    // Jitter: clients dropped together by a restart must not all come back at once.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  reset() {
    this.attempts = 0;
    this._ceiling = this.initial;
  }
}

/** A token bucket a little below the server's 50 commands a second (burst 100). */
class Pacer {
  constructor(rate = 40, burst = 80) {
    this.rate = rate;
    this.burst = burst;
    this._tokens = burst;
    this._stamp = null;
  }

  /** Take one token; the wait (ms) it implies. */
  delay(now) {
    if (this._stamp !== null) {
      this._tokens = Math.min(this.burst, this._tokens + ((now - this._stamp) / 1000) * this.rate);
    }
    this._stamp = now;
    this._tokens -= 1;
    return this._tokens >= 0 ? 0 : (-this._tokens / this.rate) * 1000;
  }
}

// -- records ----------------------------------------------------------------------------------
function parseDate(value) {
  return typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(value)
    ? new Date(value)
    : null;
}

function parseAttributes(value) {
  if (typeof value !== "string") return value ?? {};
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function intOrNull(value) {
  return Number.isInteger(value) ? value : null;
}

/** A message as the REST API renders it, in camelCase; `author` is the REST API's `from`. */
export function toMessage(data, channelSid = null) {
  return Object.freeze({
    sid: String(data.sid ?? ""),
    channelSid: String(data.channel_sid || channelSid || ""),
    index: intOrNull(data.index) ?? -1,
    author: String(data.from ?? ""),
    body: String(data.body ?? ""),
    attributes: parseAttributes(data.attributes),
    type: String(data.type ?? "text"),
    media: data.media && typeof data.media === "object" ? data.media : null,
    wasEdited: Boolean(data.was_edited),
    lastUpdatedBy: data.last_updated_by ?? null,
    dateCreated: parseDate(data.date_created),
    dateUpdated: parseDate(data.date_updated),
    raw: data,
  });
}

export function toMember(data, channelSid = null) {
  return Object.freeze({
    sid: String(data.sid ?? ""),
    channelSid: String(data.channel_sid || channelSid || ""),
    identity: String(data.identity ?? ""),
    roleSid: data.role_sid ?? null,
    lastConsumedMessageIndex: intOrNull(data.last_consumed_message_index),
    lastConsumptionTimestamp: parseDate(data.last_consumption_timestamp),
    attributes: parseAttributes(data.attributes),
    dateCreated: parseDate(data.date_created),
    dateUpdated: parseDate(data.date_updated),
    raw: data,
  });
}

export function toUser(data) {
  return Object.freeze({
    sid: String(data.sid ?? ""),
    identity: String(data.identity ?? ""),
    friendlyName: data.friendly_name ?? null,
    attributes: parseAttributes(data.attributes),
    roleSid: data.role_sid ?? null,
    isOnline: typeof data.is_online === "boolean" ? data.is_online : null,
    isNotifiable: typeof data.is_notifiable === "boolean" ? data.is_notifiable : null,
    raw: data,
  });
}

function encodeAttributes(attributes) {
  return attributes === undefined || attributes === null ? undefined : JSON.stringify(attributes);
}

// -- the timeline: which messages were delivered, per channel (hubbub.client.timeline) ----------
//
// Live pushes go through live(). When the connection drops, suspend() holds pushes back; after
// re-authenticating, plan() says for each subscribed channel the last index delivered (or null:
// fetch a baseline). catchUp() takes fetched pages, release() hands back the held pushes still
// new. Delivering held pushes only after the fetched history keeps each channel in index order.
// A live push older than the last delivered is a late one (with several server processes, each
// pushes its own senders' messages first): it is delivered if not among the recent ones.
const RECENT = 200;

export class Timeline {
  constructor() {
    // sid -> {last: number|null, held: Message[]|null, recent: Set<number>}
    this._tracks = new Map();
    this._suspended = false;
  }

  live(sid, message) {
    const track = this._tracks.get(sid);
    if (track === undefined) {
      if (this._suspended) {
        this._tracks.set(sid, { last: null, held: [message], recent: new Set() });
        return [];
      }
      this._tracks.set(sid, { last: message.index, held: null, recent: new Set([message.index]) });
      return [message];
    }
    if (track.held !== null) {
      track.held.push(message);
      return [];
    }
    if (track.last !== null && message.index <= track.last) {
      // New unless among the recent ones, or older than all of them (then it cannot be told).
      const full = track.recent.size >= RECENT;
      const late =
        !track.recent.has(message.index) && (!full || message.index > Math.min(...track.recent));
      if (!late) return [];
    } else {
      track.last = message.index;
    }
    this._note(track, message.index);
    return [message];
  }

  _note(track, index) {
    track.recent.add(index);
    if (track.recent.size > RECENT) track.recent.delete(Math.min(...track.recent));
  }

  watch(sid) {
    if (this._tracks.has(sid)) return false;
    this._tracks.set(sid, { last: null, held: [], recent: new Set() });
    return true;
  }

  startEmpty(sid) {
    if (!this._tracks.has(sid)) this._tracks.set(sid, { last: -1, held: null, recent: new Set() });
  }

  forget(sid) {
    this._tracks.delete(sid);
  }

  suspend() {
    this._suspended = true;
    for (const track of this._tracks.values()) if (track.held === null) track.held = [];
  }

  plan(subscribed) {
    const wanted = new Set(subscribed);
    for (const sid of [...this._tracks.keys()]) if (!wanted.has(sid)) this._tracks.delete(sid);
    const plan = new Map();
    for (const sid of wanted) {
      let track = this._tracks.get(sid);
      if (track === undefined) {
        track = { last: null, held: [], recent: new Set() };
        this._tracks.set(sid, track);
      }
      if (track.held === null) track.held = [];
      plan.set(sid, track.last);
    }
    this._suspended = false;
    return plan;
  }

  catchUp(sid, page) {
    const track = this._tracks.get(sid);
    if (track === undefined) return [];
    const fresh = [];
    for (const message of [...page].sort((a, b) => a.index - b.index)) {
      if (track.last === null || message.index > track.last) {
        track.last = message.index;
        this._note(track, message.index);
        fresh.push(message);
      }
    }
    return fresh;
  }

  release(sid, baseline = null) {
    const track = this._tracks.get(sid);
    if (track === undefined) return [];
    const held = [...(track.held || [])].sort((a, b) => a.index - b.index);
    track.held = null;
    if (track.last === null) {
      track.last = baseline;
      const fresh = [];
      for (const message of held) {
        if (!fresh.length || message.index > fresh[fresh.length - 1].index) {
          this._note(track, message.index);
          fresh.push(message);
        }
      }
      if (fresh.length) {
        track.last = Math.max(fresh[fresh.length - 1].index, baseline ?? -1);
      }
      return fresh;
    }
    return this.catchUp(sid, held);
  }
}

// -- channels ---------------------------------------------------------------------------------

/** A channel as the application holds it; the client keeps one object per SID, kept current. */
export class Channel {
  constructor(client, data, status = "known") {
    this._client = client;
    /** "joined", "invited" or "known" for this user. */
    this.status = status;
    /** Unread messages as last reported by the server (null: no read horizon yet). */
    this.unread = null;
    /** This user's membership, when joined (from get_subscribed_channels or join). */
    this.member = null;
    this.updateFrom(data);
  }

  updateFrom(data) {
    this.sid = String(data.sid ?? "");
    this.uniqueName = data.unique_name ?? null;
    this.friendlyName = data.friendly_name ?? null;
    this.attributes = parseAttributes(data.attributes);
    this.type = String(data.type ?? "public");
    this.createdBy = data.created_by ?? null;
    this.membersCount = Number(data.members_count) || 0;
    this.messagesCount = Number(data.messages_count) || 0;
    this.dateCreated = parseDate(data.date_created);
    this.dateUpdated = parseDate(data.date_updated);
  }

  /** The friendly name, else the unique name, else the SID. */
  get name() {
    return this.friendlyName || this.uniqueName || this.sid;
  }

  _run(kind, params = {}) {
    const given = Object.fromEntries(
      Object.entries(params).filter(([, value]) => value !== undefined && value !== null),
    );
    return this._client._command(kind, { channel: this.sid, ...given });
  }

  /** Become a member (a private channel needs an invite). */
  async join() {
    const result = await this._run("join");
    if (result.member) this.member = toMember(result.member, this.sid);
    this.status = "joined";
    this._client._joined(this);
    return this;
  }

  async leave() {
    await this._run("leave");
    this.status = "known";
    this._client._left(this);
    return this;
  }

  /** Invite a user; they get `channel_invited` and may then join or decline. */
  async invite(identity) {
    await this._run("invite", { identity });
  }

  /** Turn down an invitation to this channel. */
  async decline() {
    await this._run("decline");
    this.status = "known";
    return this;
  }

  /**
   * The first page of the channel's members (members only may ask): `items` are
   * `{member, user}`; `reachabilityEnabled` says whether `user.isOnline` means anything.
   */
  async getMembers(pageSize = 50) {
    const fetch = async (pageToken) => {
      const params = { page_size: pageSize };
      if (pageToken !== null) params.page_token = pageToken;
      const result = await this._run("get_members", params);
      const items = (result.members || []).map((item) =>
        Object.freeze({
          member: toMember(item.member || {}, this.sid),
          user: toUser(item.user || {}),
        }),
      );
      const page = new Paginator(items, result.next_page_token, fetch);
      page.reachabilityEnabled = Boolean(result.reachability_enabled);
      return page;
    };
    return fetch(null);
  }

  /** Send a message; resolves, once it is stored, to its index in the channel. */
  async sendMessage(body, attributes) {
    const result = await this._run("send_message", {
      body,
      attributes: encodeAttributes(attributes),
    });
    return toMessage(result.message || {}, this.sid).index;
  }

  /**
   * A page of history in index order: ending at `anchor` (the latest if omitted) going
   * backwards, starting at it going forwards; the anchor itself is included.
   */
  /** A page of history in index order. `page.truncated` is true when the server returned fewer
   * than asked to keep its reply small: it is not the end of the history. */
  async getMessages(pageSize = 30, anchor = null, direction = "backwards") {
    const result = await this._run("get_messages", { page_size: pageSize, anchor, direction });
    const page = (result.messages || []).map((data) => toMessage(data, this.sid));
    page.truncated = result.truncated === true;
    return page;
  }

  async updateMessage(message, { body, attributes } = {}) {
    const sid = typeof message === "string" ? message : message.sid;
    const result = await this._run("update_message", {
      sid,
      body,
      attributes: encodeAttributes(attributes),
    });
    return toMessage(result.message || {}, this.sid);
  }

  async removeMessage(message) {
    await this._run("remove_message", { sid: typeof message === "string" ? message : message.sid });
  }

  /** Tell the channel this user is typing; it ends by itself after the service's timeout. */
  async typing() {
    await this._run("typing");
  }

  /** Move the read horizon forwards to `index`; resolves to the unread count. */
  async updateLastConsumedMessageIndex(index) {
    const result = await this._run("set_consumed", { index });
    this.unread = intOrNull(result.unread);
    return this.unread;
  }

  /** Messages after the read horizon (null if the user never set one). */
  async getUnconsumedMessagesCount() {
    const result = await this._run("get_unconsumed_count");
    this.unread = intOrNull(result.unread);
    return this.unread;
  }
}

/** One page of public channels: `items`, `hasNextPage`, `nextPage()`. */
export class Paginator {
  constructor(items, nextPageToken, fetch) {
    this.items = items;
    this.nextPageToken = nextPageToken ?? null;
    this._fetch = fetch;
  }

  get hasNextPage() {
    return this.nextPageToken !== null;
  }

  nextPage() {
    if (this.nextPageToken === null) throw new Error("this is the last page");
    return this._fetch(this.nextPageToken);
  }
}

// -- the client -------------------------------------------------------------------------------
const CHANNEL_STATUS = { channel_joined: "joined", channel_left: "known", channel_invited: "invited" };
const CHANNEL_EVENTS = new Set([
  "channel_added",
  "channel_updated",
  "channel_removed",
  ...Object.keys(CHANNEL_STATUS),
]);
const MEMBER_EVENTS = new Set(["member_joined", "member_left", "member_updated"]);

/** The default endpoint: /v1/ws on the page's own host, wss: behind https. */
export function defaultUrl(location = globalThis.location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/v1/ws`;
}

/** A Programmable Chat client; make one with `await ChatClient.create(token, options)`. */
export class ChatClient {
  /**
   * Connect, authenticate and learn the subscribed channels.
   *
   * Give a token, or `options.tokenProvider` (an async function returning a token) that the
   * client calls for the first token, before the current one expires, and whenever the server
   * refuses it; or both. A provider that throws an error with `fatal: true` (e.g. the sign-in
   * session is gone) makes the client stop as `denied`. Rejects with `ChatError` if the token
   * is refused, or another error if the server cannot be reached.
   */
  static async create(token, options = {}) {
    if (token && typeof token === "object") {
      options = token;
      token = null;
    }
    if (!token && !options.tokenProvider) throw new TypeError("give a token or a tokenProvider");
    const client = new ChatClient(options.url || defaultUrl(), token || null, options);
    try {
      await client._connect();
      await client._resync(false);
    } catch (error) {
      await client.shutdown();
      throw error;
    }
    return client;
  }

  constructor(url, token, { tokenProvider = null, timeout = 10000, backoff = null } = {}) {
    this.url = url;
    this.state = ConnectionState.DISCONNECTED;
    this.identity = null;
    this.serviceSid = null;
    this.user = null;
    /** The token's expiry (Unix seconds) and the server's leeway, from the server. */
    this.expiresAt = null;
    this.leeway = null;
    /** How the last connection ended (null while the first is up). */
    this.closeCode = null;
    this.closeReason = "";
    /** How many WebSockets this client opened: 1 as long as it never reconnected. */
    this.connections = 0;
    this._token = token;
    this._provider = tokenProvider;
    this._timeout = timeout;
    this._backoff = backoff || new Backoff();
    this._pacer = new Pacer();
    this._listeners = new Map();
    this._delivery = Promise.resolve();
    this._channels = new Map();
    this._timeline = new Timeline();
    this._pending = new Map(); // id -> {resolve, reject, timer}
    this._nextId = 1;
    this._socket = null;
    this._readyWaiters = [];
    this._finished = false;
    this._shutDown = false;
    this._connectedAt = 0;
    this._renewing = false;
    this._renewUntil = 0; // performance.now() after which renewing the token is pointless
    this._tokenGeneration = 0; // bumped whenever the token is replaced
    this._warning = null; // how long before expiry the server warns (s)
    this._early = null; // user_updated pushes received while authenticating
    this._inCallback = false;
  }

  // -- the application's side --------------------------------------------------------------
  /** Call `callback` (sync or async) on `event`; callbacks run one at a time, in order. */
  on(event, callback) {
    if (!EVENTS.includes(event)) throw new Error(`unknown event ${JSON.stringify(event)}`);
    if (!this._listeners.has(event)) this._listeners.set(event, []);
    this._listeners.get(event).push(callback);
    return this;
  }

  off(event, callback) {
    const listeners = this._listeners.get(event) || [];
    const at = listeners.indexOf(callback);
    if (at >= 0) listeners.splice(at, 1);
    return this;
  }

  /** Replace the token on the live connection (same identity and service), no reconnect. */
  async updateToken(token) {
    const result = await this._command("update_token", { token });
    this._token = token;
    this._tokenGeneration += 1;
    if (Number.isFinite(result.expires_at)) this.expiresAt = result.expires_at;
  }

  /** Create a channel; this user joins it (as channel admin). */
  async createChannel({ friendlyName, uniqueName, attributes, private: isPrivate = false } = {}) {
    const params = {
      friendly_name: friendlyName,
      unique_name: uniqueName,
      attributes: encodeAttributes(attributes),
      // Not "type": that key names the command in every frame.
      channel_type: isPrivate ? "private" : "public",
    };
    const result = await this._command("create_channel", dropEmpty(params));
    const channel = this._remember(result.channel || {}, "joined");
    channel.unread = 0;
    this._timeline.startEmpty(channel.sid);
    return channel;
  }

  /** The channel with this SID or unique name (ChatError 20404 if missing or invisible). */
  async getChannelBySid(sid) {
    const result = await this._command("get_channel", { channel: sid });
    return this._remember(result.channel || {});
  }

  getChannelByUniqueName(uniqueName) {
    return this.getChannelBySid(uniqueName);
  }

  /**
   * The channels this user has joined (status "joined", with `unread` and `member` set), then
   * those they are invited to (status "invited").
   */
  async getSubscribedChannels() {
    const result = await this._command("get_subscribed_channels", {});
    return this._rememberSubscriptions(result.channels || []);
  }

  /** The first page of public channels; `await page.nextPage()` for more. */
  async getPublicChannels(pageSize = 50) {
    const fetch = async (pageToken) => {
      const params = { page_size: pageSize };
      if (pageToken !== null) params.page_token = pageToken;
      const result = await this._command("get_public_channels", params);
      const channels = (result.channels || []).map((data) => this._remember(data));
      return new Paginator(channels, result.next_page_token, fetch);
    };
    return fetch(null);
  }

  /** Close the connection and stop reconnecting. */
  async shutdown() {
    if (this._shutDown) return;
    this._shutDown = true;
    const socket = this._socket;
    this._socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "client shutdown");
    this._finish(
      this.state === ConnectionState.DENIED ? ConnectionState.DENIED : ConnectionState.DISCONNECTED,
    );
    // Deliver what is queued; from inside a callback that would wait for itself, so just stop.
    if (!this._inCallback) await this._delivery;
  }

  // -- events ------------------------------------------------------------------------------
  _emit(event, ...args) {
    // One chain of promises: each callback (awaited if async) runs after the previous one.
    this._delivery = this._delivery.then(async () => {
      for (const callback of [...(this._listeners.get(event) || [])]) {
        this._inCallback = true;
        try {
          await callback(...args);
        } catch (error) {
          console.error(`a ${event} callback threw`, error);
        } finally {
          this._inCallback = false;
        }
      }
    });
  }

  _setState(state) {
    if (state !== this.state) {
      this.state = state;
      this._emit("connection_state_changed", state);
    }
  }

  // -- commands ----------------------------------------------------------------------------
  async _command(kind, params) {
    if (!this._isReady() && !this._finished) await this._waitReady();
    if (this._finished || !this._isReady()) throw new NotConnected(`the client is ${this.state}`);
    return this._send(this._socket, kind, params);
  }

  _isReady() {
    return this._socket !== null && this.state === ConnectionState.CONNECTED;
  }

  _waitReady() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._readyWaiters = this._readyWaiters.filter((waiter) => waiter !== wake);
        reject(new CommandTimeout(`not connected within ${this._timeout / 1000} s`));
      }, this._timeout);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      this._readyWaiters.push(wake);
    });
  }

  _wakeWaiters() {
    const waiters = this._readyWaiters;
    this._readyWaiters = [];
    for (const wake of waiters) wake();
  }

  async _send(socket, kind, params) {
    const wait = this._pacer.delay(performance.now());
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const id = this._nextId++;
    // id and type first: a frame cut short in a log still says what it was, token unseen.
    const text = JSON.stringify({ id, type: kind, ...params });
    if (new TextEncoder().encode(text).length > MAX_FRAME) {
      throw new RangeError(`a ${kind} command does not fit in ${MAX_FRAME} bytes`);
    }
    if (socket.readyState !== WebSocket.OPEN) throw new NotConnected("the connection is not open");
    const reply = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new CommandTimeout(`no reply to ${kind} within ${this._timeout / 1000} s`));
      }, this._timeout);
      this._pending.set(id, { resolve, reject, timer });
      socket.send(text);
    });
    if (!reply.ok) throw new ChatError(reply.error);
    return reply.result || {};
  }

  _failPending(why) {
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const { reject, timer } of pending) {
      clearTimeout(timer);
      reject(new NotConnected(why));
    }
  }

  // -- the connection ----------------------------------------------------------------------
  /** Open a WebSocket and authenticate on it. */
  async _connect() {
    this._setState(ConnectionState.CONNECTING);
    if (!this._token && this._provider) this._token = await this._provider();
    this._early = new Map();
    const socket = await this._open();
    let result;
    try {
      result = await this._send(socket, "authenticate", { token: this._token });
    } catch (error) {
      socket.close(1000, "authentication failed");
      throw error;
    }
    if (this._shutDown) {
      socket.close(1000, "client shutdown");
      throw new NotConnected("the client was shut down");
    }
    this.identity = result.identity ?? null;
    this.serviceSid = result.service_sid ?? null;
    // The server announces this connection's presence (user_updated) before its authenticate
    // reply, whose user was read earlier: the pushed user is the newer one.
    const pushed = this._early.get(this.identity);
    this._early = null;
    this.user = pushed || (result.user ? toUser(result.user) : null);
    this.expiresAt = result.expires_at ?? null;
    this.leeway = result.leeway ?? null;
    this._warning = Number.isFinite(result.about_to_expire_in) ? result.about_to_expire_in : null;
    this._socket = socket;
    this._connectedAt = performance.now();
    this._setState(ConnectionState.CONNECTED);
    this._wakeWaiters();
  }

  _open() {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.url);
      this.connections += 1;
      const timer = setTimeout(() => {
        socket.close();
        reject(new NotConnected("the server did not answer in time"));
      }, this._timeout);
      socket.addEventListener("message", (event) => this._onFrame(event.data));
      socket.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.addEventListener("close", (event) => {
        clearTimeout(timer);
        reject(new NotConnected(`the connection closed (${event.code})`));
        this._onClose(socket, event.code, event.reason);
      });
    });
  }

  _onFrame(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      console.warn("ignoring a malformed frame from the server");
      return;
    }
    if (!frame || typeof frame !== "object") return;
    if (frame.type === "reply") {
      const pending = this._pending.get(frame.id);
      if (pending) {
        this._pending.delete(frame.id);
        clearTimeout(pending.timer);
        pending.resolve(frame);
      }
      return;
    }
    try {
      this._onPush(frame.type, frame);
    } catch (error) {
      console.error(`could not handle a ${frame.type} push`, error);
    }
  }

  _onClose(socket, code, reason) {
    const wasCurrent = this._socket === socket;
    if (wasCurrent) this._socket = null;
    if (!wasCurrent && this._socket !== null) return; // an old socket; a newer one is up
    this.closeCode = code;
    this.closeReason = reason || "";
    this._failPending("the connection dropped");
    this._timeline.suspend();
    if (!wasCurrent || this._finished) return; // create() or a reconnect attempt handles it
    const action = afterClose(code, this._provider !== null);
    if (action === "reconnect" || action === "refresh") {
      this._reconnect(action === "refresh");
    } else {
      this._finish(action === "denied" ? ConnectionState.DENIED : ConnectionState.DISCONNECTED);
    }
  }

  /** Try until connected, or until the token is refused for good. */
  async _reconnect(refresh) {
    this._setState(ConnectionState.CONNECTING);
    if (performance.now() - this._connectedAt >= STABLE_AFTER) this._backoff.reset();
    while (!this._finished) {
      await new Promise((resolve) => setTimeout(resolve, this._backoff.nextDelay() * 1000));
      if (this._finished) return;
      if (refresh && this._provider) {
        try {
          this._token = await this._provider();
          this._tokenGeneration += 1;
        } catch (error) {
          if (error?.fatal) {
            this._finish(ConnectionState.DENIED);
            return;
          }
          console.warn("the token provider failed; will retry", error);
          continue;
        }
      }
      try {
        await this._connect();
      } catch (error) {
        if (error instanceof ChatError) {
          // The token was refused: a provider may try another, a fixed token never works.
          if (!this._provider) {
            this._finish(ConnectionState.DENIED);
            return;
          }
          refresh = true;
        }
        continue;
      }
      this._resync(true).catch((error) => console.warn("resync failed", error));
      return;
    }
  }

  _finish(state) {
    this._finished = true;
    this._failPending(`the client is ${state}`);
    this._wakeWaiters();
    this._setState(state);
  }

  /**
   * The token is about to expire: fetch a new one and swap it in, on the same connection.
   *
   * The server warns once per token, so a failure (the provider's 429 or 503, a network error,
   * a refused update) is retried with backoff for as long as the token lasts (the warning's
   * lead plus the server's leeway); after that the server closes with 4002 and reconnecting
   * takes over. A provider error with `fatal: true` (signed out) stops the client as `denied`.
   */
  async _renew() {
    if (!this._provider) return;
    const lasts = (this._warning ?? 60) + (this.leeway ?? 0);
    this._renewUntil = performance.now() + lasts * 1000;
    if (this._renewing) return; // the running renewal now tries until the new deadline
    this._renewing = true;
    const generation = this._tokenGeneration;
    const backoff = new Backoff(RENEW_BACKOFF);
    try {
      while (!this._finished && this._tokenGeneration === generation) {
        let wait;
        try {
          const token = await this._provider();
          if (this._finished || this._tokenGeneration !== generation) return; // renewed meanwhile
          await this.updateToken(token);
          return;
        } catch (error) {
          if (error?.fatal) {
            this._deny("the token provider refused: signed out");
            return;
          }
          wait = backoff.nextDelay() * 1000;
          // A 429 says how long to wait (seconds); asking sooner only gets another 429.
          const after = Number(error?.retryAfter);
          if (Number.isFinite(after) && after > 0) wait = Math.max(wait, after * 1000);
          console.warn(`renewing the token failed; trying again in ${Math.round(wait)} ms`, error);
        }
        const left = this._renewUntil - performance.now();
        if (left <= 0) return;
        // Keep one last try inside the token's lifetime rather than sleeping past it.
        await sleep(Math.min(wait, Math.max(0, left - 1000)));
      }
    } finally {
      this._renewing = false;
    }
  }

  /** The token can no longer be renewed (the user signed out): close and stop as denied. */
  _deny(why) {
    const socket = this._socket;
    this._socket = null;
    this._finish(ConnectionState.DENIED);
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, why);
  }

  // -- catching up -------------------------------------------------------------------------
  /** After authenticating: learn the subscribed channels, then bring each up to date. */
  async _resync(retry) {
    const socket = this._socket;
    let result;
    for (;;) {
      try {
        result = await this._command("get_subscribed_channels", {});
        break;
      } catch (error) {
        if (!retry || this._finished) throw error;
        await new Promise((resolve) => setTimeout(resolve, 1000));
        if (this._socket !== socket) return; // the connection changed; its resync takes over
      }
    }
    const joined = [];
    for (const channel of this._rememberSubscriptions(result.channels || [])) {
      if (channel.status === "joined") joined.push(channel.sid);
    }
    for (const [sid, last] of this._timeline.plan(joined)) await this._bringUpToDate(sid, last);
  }

  _joined(channel) {
    if (this._timeline.watch(channel.sid)) {
      this._bringUpToDate(channel.sid, null).catch(() => {});
    }
  }

  _left(channel) {
    this._timeline.forget(channel.sid);
  }

  /** Deliver what a channel missed since `last`, or fetch its baseline if null. */
  async _bringUpToDate(sid, last) {
    const channel = this._channels.get(sid);
    try {
      if (channel === undefined) {
        // removed meanwhile
      } else if (last === null) {
        const latest = await channel.getMessages(1);
        const baseline = latest.length ? latest[latest.length - 1].index : -1;
        this._deliver(this._timeline.release(sid, baseline));
        return;
      } else {
        let anchor = last + 1;
        while (anchor !== null) {
          const page = await channel.getMessages(CATCH_UP_PAGE, anchor, "forwards");
          this._deliver(this._timeline.catchUp(sid, page));
          const last = page.length < CATCH_UP_PAGE && !page.truncated;
          anchor = last || !page.length ? null : Math.max(anchor, page[page.length - 1].index) + 1;
        }
      }
    } catch (error) {
      // Holding pushes back any longer would hide them; a gap is the lesser harm.
      console.warn(`could not catch up channel ${sid}; messages may be missing`, error);
    }
    this._deliver(this._timeline.release(sid));
  }

  _deliver(messages) {
    for (const message of messages) this._emit("message_added", message);
  }

  // -- pushes ------------------------------------------------------------------------------
  _onPush(kind, data) {
    const channelSid = data.channel_sid ?? null;
    if (kind === "message_added") {
      const message = toMessage(data.message || {}, channelSid);
      this._deliver(this._timeline.live(message.channelSid, message));
    } else if (kind === "message_updated" || kind === "message_removed") {
      this._emit(kind, toMessage(data.message || {}, channelSid));
    } else if (MEMBER_EVENTS.has(kind)) {
      this._emit(kind, toMember(data.member || {}, channelSid));
    } else if (kind === "typing_started" || kind === "typing_ended") {
      this._emit(kind, Object.freeze({ channelSid: String(channelSid), identity: String(data.identity ?? "") }));
    } else if (CHANNEL_EVENTS.has(kind)) {
      this._emit(kind, this._onChannelPush(kind, data.channel || {}));
    } else if (kind === "user_updated") {
      const user = toUser(data.user || {});
      if (this._early) this._early.set(user.identity, user);
      else if (user.identity === this.identity) this.user = user;
      this._emit(kind, user);
    } else if (kind === "token_about_to_expire") {
      this._emit(kind, data.expires_at);
      this._renew();
    } else if (kind === "token_expired") {
      this._emit(kind);
    }
  }

  _onChannelPush(kind, data) {
    const channel = this._remember(data, CHANNEL_STATUS[kind]);
    if (kind === "channel_joined") {
      this._joined(channel);
    } else if (kind === "channel_left" || kind === "channel_removed") {
      this._left(channel);
      if (kind === "channel_removed") this._channels.delete(channel.sid);
    }
    return channel;
  }

  /** The one Channel object for this SID, updated from `data`. */
  _remember(data, status) {
    const sid = String(data.sid ?? "");
    let channel = this._channels.get(sid);
    if (channel === undefined) {
      channel = new Channel(this, data, status || "known");
      this._channels.set(sid, channel);
    } else {
      channel.updateFrom(data);
      if (status) channel.status = status;
    }
    return channel;
  }

  /**
   * The entries of get_subscribed_channels: `{channel, member, unread}` for each joined channel,
   * then `{channel, invite}` for each invitation. An invitation to a channel the user is a member
   * of already (possible over REST) does not hide the membership.
   */
  _rememberSubscriptions(items) {
    const entries = items.filter((item) => item && typeof item === "object");
    const members = new Set(entries.filter((item) => item.member).map((item) => item.channel?.sid));
    const channels = [];
    for (const item of entries) {
      if (!item.member && members.has(item.channel?.sid)) continue;
      channels.push(this._rememberSubscription(item));
    }
    return channels;
  }

  _rememberSubscription(item) {
    const channel = this._remember(item.channel || {}, item.member ? "joined" : "invited");
    channel.member = item.member ? toMember(item.member, channel.sid) : null;
    channel.unread = item.member ? intOrNull(item.unread) : null;
    return channel;
  }
}

function dropEmpty(params) {
  return Object.fromEntries(
    Object.entries(params).filter(([, value]) => value !== undefined && value !== null && value !== ""),
  );
}
