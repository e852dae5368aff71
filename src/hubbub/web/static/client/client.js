// @ts-check
// ChatClient: a Programmable Chat client on top of one kept-alive connection (session.js)
// (hubbub.client.client).
//
// It keeps one Channel object per SID, current with every push; turns pushes into events with
// the Python SDK's names; and after a reconnect catches each joined channel up by message
// index, so that no message is missed or repeated (timeline.js decides which to deliver).

import { Channel, Paginator, encodeAttributes } from "./channel.js";
import { MediaService, mediaUrl } from "./media.js";
import { intOrNull, toMember, toMessage, toUser } from "./models.js";
import { Session, sleep } from "./session.js";
import { Timeline } from "./timeline.js";

/** @typedef {import("./models.js").Json} Json */
/** @typedef {import("./models.js").Message} Message */
/** @typedef {import("./channel.js").Status} Status */
/** @typedef {import("./session.js").Options} Options */

/** Messages per command when catching up after a reconnect (the server's maximum). */
const CATCH_UP_PAGE = 100;

/** @type {Record<string, Status>} */
const CHANNEL_STATUS = { channel_joined: "joined", channel_left: "known", channel_invited: "invited" };
const CHANNEL_EVENTS = new Set([
  "channel_added",
  "channel_updated",
  "channel_removed",
  ...Object.keys(CHANNEL_STATUS),
]);
const MEMBER_EVENTS = new Set(["member_joined", "member_left", "member_updated"]);

/**
 * The default endpoint: /v1/ws on the page's own host, wss: behind https.
 * @param {{protocol: string, host: string}} [location]
 */
export function defaultUrl(location = globalThis.location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/v1/ws`;
}

/** A Programmable Chat client; make one with `await ChatClient.create(token, options)`. */
export class ChatClient extends Session {
  /**
   * Connect, authenticate and learn the subscribed channels.
   *
   * Give a token, or `options.tokenProvider` (an async function returning a token) that the
   * client calls for the first token, before the current one expires, and whenever the server
   * refuses it; or both. A provider that throws an error with `fatal: true` (e.g. the sign-in
   * session is gone) makes the client stop as `denied`. Rejects with `ChatError` if the token
   * is refused, or another error if the server cannot be reached.
   * @param {string | Options | null} token a token, or the options with no token
   * @param {Options} [options]
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

  /**
   * @param {string} url
   * @param {string | null} token
   * @param {Options} [options]
   */
  constructor(url, token, options) {
    super(url, token, options);
    /** @type {Map<string, Channel>} */
    this._channels = new Map();
    /** @type {Timeline<Message>} */
    this._timeline = new Timeline();
    /** The media service beside this server's /v1/ws, reached with this client's token. */
    this._media = new MediaService(
      () => mediaUrl(this.url, this.serviceSid || ""),
      () => this._token,
    );
  }

  /**
   * A URL of a message's media bytes that needs no token (for an <img src> or a download
   * link), valid a few minutes: ask again for a fresh one.
   * @param {{sid: string} | string} media a message's `media`, or its SID
   * @returns {Promise<string>}
   */
  getMediaContentUrl(media) {
    return this._media.contentUrl(typeof media === "string" ? media : media.sid);
  }

  // -- the application's side --------------------------------------------------------------
  /**
   * Create a channel; this user joins it (as channel admin).
   * @param {{friendlyName?: string, uniqueName?: string, attributes?: unknown, private?: boolean}} [options]
   */
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

  /**
   * The channel with this SID or unique name (ChatError 20404 if missing or invisible).
   * @param {string} sid
   */
  async getChannelBySid(sid) {
    const result = await this._command("get_channel", { channel: sid });
    return this._remember(result.channel || {});
  }

  /** @param {string} uniqueName */
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

  /**
   * The first page of public channels; `await page.nextPage()` for more.
   * @param {number} [pageSize]
   * @returns {Promise<Paginator<Channel>>}
   */
  async getPublicChannels(pageSize = 50) {
    /**
     * @param {string | null} pageToken
     * @returns {Promise<Paginator<Channel>>}
     */
    const fetch = async (pageToken) => {
      /** @type {Record<string, unknown>} */
      const params = { page_size: pageSize };
      if (pageToken !== null) params.page_token = pageToken;
      const result = await this._command("get_public_channels", params);
      const channels = (result.channels || []).map((/** @type {Json} */ data) =>
        this._remember(data),
      );
      return new Paginator(channels, result.next_page_token, fetch);
    };
    return fetch(null);
  }

  // -- push --------------------------------------------------------------------------------
  /**
   * The VAPID public key a browser subscribes with (`applicationServerKey`), or null when the
   * account has no webpush credential.
   * @returns {Promise<string | null>}
   */
  async getWebPushKey() {
    const result = await this._command("get_webpush_key", {});
    return typeof result.public_key === "string" ? result.public_key : null;
  }

  /**
   * Have this user's device told of chat events by push (Twilio's `setPushRegistrationId`):
   * `bindingType` "webpush" with a PushSubscription (or its JSON), or "fcm" / "apn" with the
   * device's token. Resolves with the binding's SID.
   * @param {string} bindingType
   * @param {string | object} address
   * @param {string[]} [messageTypes] the service's four chat types unless given
   * @returns {Promise<string>}
   */
  async setPushRegistrationId(bindingType, address, messageTypes) {
    /** @type {Record<string, unknown>} */
    const params = {
      binding_type: bindingType,
      address: typeof address === "string" ? address : JSON.parse(JSON.stringify(address)),
    };
    if (messageTypes) params.message_types = messageTypes;
    const result = await this._command("register_push", params);
    return String(result.binding_sid);
  }

  /**
   * Remove this user's registration of the device at `address` (Twilio's
   * `removePushRegistrations`); resolves with the SIDs of the bindings removed.
   * @param {string} bindingType
   * @param {string | object} address
   * @returns {Promise<string[]>}
   */
  async removePushRegistrations(bindingType, address) {
    const params = {
      binding_type: bindingType,
      address: typeof address === "string" ? address : JSON.parse(JSON.stringify(address)),
    };
    const result = await this._command("unregister_push", params);
    return Array.isArray(result.removed) ? result.removed.map(String) : [];
  }

  // -- catching up -------------------------------------------------------------------------
  _dropped() {
    this._timeline.suspend();
  }

  /**
   * After authenticating: learn the subscribed channels, then bring each up to date.
   * @param {boolean} retry whether to keep asking while the connection lasts
   */
  async _resync(retry) {
    const socket = this._socket;
    let result;
    for (;;) {
      try {
        result = await this._command("get_subscribed_channels", {});
        break;
      } catch (error) {
        if (!retry || this._finished) throw error;
        await sleep(1000);
        if (this._socket !== socket) return; // the connection changed; its resync takes over
      }
    }
    const joined = [];
    for (const channel of this._rememberSubscriptions(result.channels || [])) {
      if (channel.status === "joined") joined.push(channel.sid);
    }
    for (const [sid, last] of this._timeline.plan(joined)) await this._bringUpToDate(sid, last);
  }

  /** @param {Channel} channel */
  _joined(channel) {
    if (this._timeline.watch(channel.sid)) {
      this._bringUpToDate(channel.sid, null).catch(() => {});
    }
  }

  /** @param {Channel} channel */
  _left(channel) {
    this._timeline.forget(channel.sid);
  }

  /**
   * Deliver what a channel missed since `last`, or fetch its baseline if null.
   * @param {string} sid
   * @param {number | null} last
   */
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
        /** @type {number | null} */
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

  /** @param {Message[]} messages */
  _deliver(messages) {
    for (const message of messages) this._emit("message_added", message);
  }

  // -- pushes ------------------------------------------------------------------------------
  /**
   * @param {string} kind
   * @param {Json} data
   */
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
      const identity = String(data.identity ?? "");
      this._emit(kind, Object.freeze({ channelSid: String(channelSid), identity }));
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

  /**
   * @param {string} kind
   * @param {Json} data
   */
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

  /**
   * The one Channel object for this SID, updated from `data`.
   * @param {Json} data
   * @param {Status} [status]
   */
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
   * @param {unknown[]} items
   */
  _rememberSubscriptions(items) {
    const entries = /** @type {Json[]} */ (items.filter((item) => item && typeof item === "object"));
    const members = new Set(entries.filter((item) => item.member).map((item) => item.channel?.sid));
    const channels = [];
    for (const item of entries) {
      if (!item.member && members.has(item.channel?.sid)) continue;
      channels.push(this._rememberSubscription(item));
    }
    return channels;
  }

  /** @param {Json} item */
  _rememberSubscription(item) {
    const channel = this._remember(item.channel || {}, item.member ? "joined" : "invited");
    channel.member = item.member ? toMember(item.member, channel.sid) : null;
    channel.unread = item.member ? intOrNull(item.unread) : null;
    return channel;
  }
}

/**
 * The parameters that say something: no null, undefined or empty string.
 * @param {Record<string, unknown>} params
 */
function dropEmpty(params) {
  return Object.fromEntries(
    Object.entries(params).filter(([, value]) => value !== undefined && value !== null && value !== ""),
  );
}
