// @ts-check
// A channel as the application holds it, and pages of results (hubbub.client.channel).

import { intOrNull, parseAttributes, parseDate, toMember, toMessage, toUser } from "./models.js";

/** @typedef {import("./models.js").Json} Json */
/** @typedef {import("./models.js").Message} Message */
/** @typedef {import("./models.js").Member} Member */
/** @typedef {import("./models.js").User} User */
/** @typedef {"joined" | "invited" | "known"} Status */
/** A page of history; `truncated`: the server returned fewer than asked to keep its reply
 * small, which is not the end of the history.
 * @typedef {Message[] & {truncated: boolean}} MessagePage */
/** @typedef {Readonly<{member: Member, user: User}>} MemberEntry */

/**
 * What a channel needs from its client (ChatClient), kept narrow so that neither module
 * imports the other.
 * @typedef {object} Host
 * @property {(kind: string, params: Record<string, unknown>) => Promise<Json>} _command
 * @property {(channel: Channel) => void} _joined
 * @property {(channel: Channel) => void} _left
 * @property {import("./media.js").MediaService} _media
 */

/**
 * Attributes as the protocol carries them: a JSON string, or left out.
 * @param {unknown} attributes
 */
export function encodeAttributes(attributes) {
  return attributes === undefined || attributes === null ? undefined : JSON.stringify(attributes);
}

/** A channel; the client keeps one object per SID, kept current. */
export class Channel {
  /**
   * @param {Host} client
   * @param {Json} data
   * @param {Status} [status]
   */
  constructor(client, data, status = "known") {
    this._client = client;
    /** "joined", "invited" or "known" for this user. @type {Status} */
    this.status = status;
    /** Unread messages as last reported by the server (null: no read horizon yet).
     * @type {number | null} */
    this.unread = null;
    /** This user's membership, when joined (from get_subscribed_channels or join).
     * @type {Member | null} */
    this.member = null;
    this.sid = "";
    /** @type {string | null} */
    this.uniqueName = null;
    /** @type {string | null} */
    this.friendlyName = null;
    /** @type {any} */
    this.attributes = {};
    this.type = "public";
    /** @type {string | null} */
    this.createdBy = null;
    this.membersCount = 0;
    this.messagesCount = 0;
    /** @type {Date | null} */
    this.dateCreated = null;
    /** @type {Date | null} */
    this.dateUpdated = null;
    this.updateFrom(data);
  }

  /** @param {Json} data the channel as the server renders it */
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

  /**
   * A command on this channel; parameters that are null or undefined are left out.
   * @param {string} kind
   * @param {Record<string, unknown>} [params]
   */
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

  /**
   * Invite a user; they get `channel_invited` and may then join or decline.
   * @param {string} identity
   */
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
   * @param {number} [pageSize]
   * @returns {Promise<Paginator<MemberEntry>>}
   */
  async getMembers(pageSize = 50) {
    /**
     * @param {string | null} pageToken
     * @returns {Promise<Paginator<MemberEntry>>}
     */
    const fetch = async (pageToken) => {
      /** @type {Record<string, unknown>} */
      const params = { page_size: pageSize };
      if (pageToken !== null) params.page_token = pageToken;
      const result = await this._run("get_members", params);
      /** @type {MemberEntry[]} */
      const items = (result.members || []).map((/** @type {Json} */ item) =>
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

  /**
   * Send a message; resolves, once it is stored, to its index in the channel. With `media`
   * (a File or Blob) the file is uploaded first and the message carries it; `filename`
   * defaults to a File's name, `contentType` to the Blob's type.
   * @param {string | null} body
   * @param {unknown} [attributes] anything JSON can encode
   * @param {{media: Blob, filename?: string | null, contentType?: string | null}} [file]
   */
  async sendMessage(body, attributes, file) {
    /** @type {string | undefined} */
    let mediaSid;
    if (file) {
      const record = await this._client._media.upload(file.media, file);
      mediaSid = String(record.sid);
    }
    const result = await this._run("send_message", {
      body: body ?? "",
      attributes: encodeAttributes(attributes),
      media_sid: mediaSid,
    });
    return toMessage(result.message || {}, this.sid).index;
  }

  /**
   * A page of history in index order: ending at `anchor` (the latest if omitted) going
   * backwards, starting at it going forwards; the anchor itself is included.
   * @param {number} [pageSize]
   * @param {number | null} [anchor]
   * @param {"backwards" | "forwards"} [direction]
   * @returns {Promise<MessagePage>}
   */
  async getMessages(pageSize = 30, anchor = null, direction = "backwards") {
    const result = await this._run("get_messages", { page_size: pageSize, anchor, direction });
    const page = (result.messages || []).map((/** @type {Json} */ data) =>
      toMessage(data, this.sid),
    );
    return Object.assign(page, { truncated: result.truncated === true });
  }

  /**
   * @param {Message | string} message the message or its SID
   * @param {{body?: string, attributes?: unknown}} [changes]
   */
  async updateMessage(message, { body, attributes } = {}) {
    const sid = typeof message === "string" ? message : message.sid;
    const result = await this._run("update_message", {
      sid,
      body,
      attributes: encodeAttributes(attributes),
    });
    return toMessage(result.message || {}, this.sid);
  }

  /** @param {Message | string} message the message or its SID */
  async removeMessage(message) {
    await this._run("remove_message", { sid: typeof message === "string" ? message : message.sid });
  }

  /** Tell the channel this user is typing; it ends by itself after the service's timeout. */
  async typing() {
    await this._run("typing");
  }

  /**
   * Move the read horizon forwards to `index`; resolves to the unread count.
   * @param {number} index
   */
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

/**
 * One page of results: `items`, `hasNextPage`, `nextPage()`.
 * @template T
 */
export class Paginator {
  /**
   * @param {T[]} items
   * @param {string | null | undefined} nextPageToken
   * @param {(pageToken: string) => Promise<Paginator<T>>} fetch
   */
  constructor(items, nextPageToken, fetch) {
    this.items = items;
    this.nextPageToken = nextPageToken ?? null;
    this._fetch = fetch;
    /** Member pages only: whether the service tracks who is online.
     * @type {boolean | undefined} */
    this.reachabilityEnabled; // declares the property for the checker; sets nothing
  }

  get hasNextPage() {
    return this.nextPageToken !== null;
  }

  nextPage() {
    if (this.nextPageToken === null) throw new Error("this is the last page");
    return this._fetch(this.nextPageToken);
  }
}
