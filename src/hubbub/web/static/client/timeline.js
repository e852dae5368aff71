// @ts-check
// Which messages were delivered, per channel (hubbub.client.timeline). No I/O.
//
// Live pushes go through live(). When the connection drops, suspend() holds pushes back; after
// re-authenticating, plan() says for each subscribed channel the last index delivered (or null:
// fetch a baseline). catchUp() takes fetched pages, release() hands back the held pushes still
// new. Delivering held pushes only after the fetched history keeps each channel in index order.
// A live push older than the last delivered is a late one (with several server processes, each
// pushes its own senders' messages first): it is delivered if not among the recent ones.

/** How many delivered indexes a channel remembers, to tell a late push from a repeat. */
const RECENT = 200;

/**
 * @template M
 * @typedef {object} Track
 * @property {number | null} last the newest index delivered (null: no baseline yet)
 * @property {M[] | null} held pushes held back while catching up (null: none held)
 * @property {Set<number>} recent indexes delivered lately
 */

/** @template {{index: number}} M */
export class Timeline {
  constructor() {
    /** @type {Map<string, Track<M>>} */
    this._tracks = new Map();
    this._suspended = false;
  }

  /**
   * A pushed message: what to deliver now (nothing if held back or a repeat).
   * @param {string} sid
   * @param {M} message
   * @returns {M[]}
   */
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

  /**
   * @param {Track<M>} track
   * @param {number} index
   */
  _note(track, index) {
    track.recent.add(index);
    if (track.recent.size > RECENT) track.recent.delete(Math.min(...track.recent));
  }

  /**
   * Start following a channel just joined: hold its pushes until a baseline is fetched.
   * @param {string} sid
   * @returns {boolean} false if it was followed already
   */
  watch(sid) {
    if (this._tracks.has(sid)) return false;
    this._tracks.set(sid, { last: null, held: [], recent: new Set() });
    return true;
  }

  /**
   * Follow a channel known to have no messages yet (just created).
   * @param {string} sid
   */
  startEmpty(sid) {
    if (!this._tracks.has(sid)) this._tracks.set(sid, { last: -1, held: null, recent: new Set() });
  }

  /** @param {string} sid */
  forget(sid) {
    this._tracks.delete(sid);
  }

  /** The connection dropped: hold every push back until caught up. */
  suspend() {
    this._suspended = true;
    for (const track of this._tracks.values()) if (track.held === null) track.held = [];
  }

  /**
   * After re-authenticating: for each subscribed channel, the last index delivered (null:
   * fetch a baseline). Channels no longer subscribed are forgotten.
   * @param {Iterable<string>} subscribed
   * @returns {Map<string, number | null>}
   */
  plan(subscribed) {
    const wanted = new Set(subscribed);
    for (const sid of [...this._tracks.keys()]) if (!wanted.has(sid)) this._tracks.delete(sid);
    /** @type {Map<string, number | null>} */
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

  /**
   * A fetched page of history: the messages in it not delivered yet, in index order.
   * @param {string} sid
   * @param {Iterable<M>} page
   * @returns {M[]}
   */
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

  /**
   * Caught up: the held pushes still new, in index order. `baseline` is the newest index
   * before them, for a channel that had none.
   * @param {string} sid
   * @param {number | null} [baseline]
   * @returns {M[]}
   */
  release(sid, baseline = null) {
    const track = this._tracks.get(sid);
    if (track === undefined) return [];
    const held = [...(track.held || [])].sort((a, b) => a.index - b.index);
    track.held = null;
    if (track.last === null) {
      track.last = baseline;
      /** @type {M[]} */
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
