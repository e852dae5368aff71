// @ts-check
// Everything the page knows, in one object replaced on sign-in and sign-out, and the
// questions about it that several parts of the page ask.

/** @typedef {import("../hubbub-client.js").ChatClient} ChatClient */
/** @typedef {import("../hubbub-client.js").Channel} Channel */
/** @typedef {import("../hubbub-client.js").Message} Message */
/** @typedef {import("../hubbub-client.js").MessagePage} MessagePage */

/**
 * What the page holds for one channel it knows.
 * @typedef {object} Entry
 * @property {Channel} channel
 * @property {number | null} unread
 * @property {Map<number, Message>} messages the messages loaded, by index
 * @property {boolean} loaded whether the latest page was loaded
 * @property {boolean} complete whether the history is loaded back to its start
 * @property {Promise<MessagePage | null> | null} loading the page being loaded
 */

function freshState() {
  return {
    /** @type {ChatClient | null} */
    client: null,
    /** @type {string | null} */
    identity: null,
    /** @type {Map<string, Entry>} */
    channels: new Map(),
    /** @type {Channel[]} */
    publicChannels: [],
    /** The SID of the channel shown. @type {string | null} */
    current: null,
    /** sid -> Set of identities typing there. @type {Map<string, Set<string>>} */
    typing: new Map(),
    /** identity -> true (online) / false (offline), from get_members and user_updated.
     * @type {Map<string, boolean>} */
    presence: new Map(),
    /** Whether the Chat Service tracks reachability (get_members says); null: not known yet.
     * @type {boolean | null | undefined} */
    reachability: null,
    /** sid -> the identities of the channel's members (from get_members, then pushes).
     * @type {Map<string, Set<string>>} */
    members: new Map(),
    /** sid -> number of the latest get_members load started (the newest one wins).
     * @type {Map<string, number>} */
    memberLoads: new Map(),
    lastTyping: 0,
  };
}

/** Everything the page knows; reset on sign-in and sign-out. */
export let state = freshState();

/** Forget everything (a client is shut down or replaced); the fresh state. */
export function resetState() {
  state = freshState();
  return state;
}

/** The entry of the channel shown, if any. */
export function currentEntry() {
  return state.current === null ? undefined : state.channels.get(state.current);
}

/**
 * The entry for a channel, made on first sight.
 * @param {Channel} channel
 */
export function track(channel) {
  let entry = state.channels.get(channel.sid);
  if (!entry) {
    entry = {
      channel,
      // The server's count after the read horizon; with no horizon yet (never read), every
      // message of the channel is unread.
      unread: channel.unread ?? (channel.status === "joined" ? channel.messagesCount : 0),
      messages: new Map(),
      loaded: false,
      complete: false,
      loading: null,
    };
    state.channels.set(channel.sid, entry);
  }
  return entry;
}

/** The channels joined, by name. */
export function sortedChannels() {
  return [...state.channels.values()]
    .filter((entry) => entry.channel.status === "joined")
    .sort((a, b) => a.channel.name.localeCompare(b.channel.name));
}

/** The channels this user is invited to, by name. */
export function invitedChannels() {
  return [...state.channels.values()]
    .filter((entry) => entry.channel.status === "invited")
    .sort((a, b) => a.channel.name.localeCompare(b.channel.name));
}

/**
 * Whether the user is looking at this channel now.
 * @param {string} sid
 */
export function viewing(sid) {
  return state.current === sid && !document.hidden;
}

/**
 * @param {Entry} entry
 * @param {Message} message
 */
export function remember(entry, message) {
  entry.messages.set(message.index, message);
}

/**
 * The index of the oldest message loaded, or null.
 * @param {Entry} entry
 */
export function oldestIndex(entry) {
  /** @type {number | null} */
  let oldest = null;
  for (const index of entry.messages.keys()) if (oldest === null || index < oldest) oldest = index;
  return oldest;
}

/**
 * The index of the newest message loaded, or null.
 * @param {Entry} entry
 */
export function newestIndex(entry) {
  /** @type {number | null} */
  let newest = null;
  for (const index of entry.messages.keys()) if (newest === null || index > newest) newest = index;
  return newest;
}
