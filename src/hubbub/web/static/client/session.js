// @ts-check
// One authenticated connection to the server, kept alive: commands and their replies,
// reconnecting with backoff as policy.js advises (with a new token first when the old one is
// refused), and renewing the token in place on `token_about_to_expire`. The chat on top
// (channels, pushes as events, catching up) is ChatClient's, in client.js.

import { Connection } from "./connection.js";
import { ChatError, CommandTimeout, NotConnected, detail } from "./errors.js";
import { ConnectionState, Emitter } from "./events.js";
import { toUser } from "./models.js";
import { Backoff, Pacer, afterClose } from "./policy.js";
import { Requests, decode, encodeCommand } from "./protocol.js";

/** @typedef {import("./models.js").Json} Json */
/** @typedef {import("./models.js").User} User */
/** @typedef {import("./events.js").State} State */
/** @typedef {import("./events.js").Callback} Callback */

/**
 * @typedef {object} Options
 * @property {string} [url] the WebSocket endpoint (default: defaultUrl())
 * @property {(() => Promise<string>) | null} [tokenProvider] resolves to a fresh token
 * @property {number} [timeout] milliseconds to wait for a connection or a reply
 * @property {Backoff | null} [backoff] delays between reconnection attempts
 */

/** A connection that stayed up this long (ms) resets the backoff; one that flaps does not. */
const STABLE_AFTER = 30000;
/** Delays (s) between attempts to renew a token when the provider or the server failed. */
const RENEW_BACKOFF = { initial: 1, cap: 20 };

/** @param {number} ms */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The connection under a ChatClient. */
export class Session {
  /**
   * @param {string} url
   * @param {string | null} token
   * @param {Options} [options]
   */
  constructor(url, token, { tokenProvider = null, timeout = 10000, backoff = null } = {}) {
    this.url = url;
    /** @type {State} */
    this.state = ConnectionState.DISCONNECTED;
    /** @type {string | null} */
    this.identity = null;
    /** @type {string | null} */
    this.serviceSid = null;
    /** @type {User | null} */
    this.user = null;
    /** The token's expiry (Unix seconds) and the server's leeway, from the server.
     * @type {number | null} */
    this.expiresAt = null;
    /** @type {number | null} */
    this.leeway = null;
    /** How the last connection ended (null while the first is up). @type {number | null} */
    this.closeCode = null;
    this.closeReason = "";
    /** How many WebSockets this client opened: 1 as long as it never reconnected. */
    this.connections = 0;
    this._token = token;
    this._provider = tokenProvider;
    this._timeout = timeout;
    this._backoff = backoff || new Backoff();
    this._pacer = new Pacer();
    this._events = new Emitter();
    this._requests = new Requests(timeout);
    /** @type {Connection | null} */
    this._socket = null;
    /** @type {(() => void)[]} */
    this._readyWaiters = [];
    this._finished = false;
    this._shutDown = false;
    this._connectedAt = 0;
    this._renewing = false;
    this._renewUntil = 0; // performance.now() after which renewing the token is pointless
    this._tokenGeneration = 0; // bumped whenever the token is replaced
    /** How long before expiry the server warns (s). @type {number | null} */
    this._warning = null;
    /** user_updated pushes received while authenticating. @type {Map<string, User> | null} */
    this._early = null;
  }

  // -- the application's side --------------------------------------------------------------
  /**
   * Call `callback` (sync or async) on `event`; callbacks run one at a time, in order.
   * @param {string} event one of EVENTS
   * @param {Callback} callback
   */
  on(event, callback) {
    this._events.on(event, callback);
    return this;
  }

  /**
   * @param {string} event
   * @param {Callback} callback
   */
  off(event, callback) {
    this._events.off(event, callback);
    return this;
  }

  /**
   * Replace the token on the live connection (same identity and service), no reconnect.
   * @param {string} token
   */
  async updateToken(token) {
    const result = await this._command("update_token", { token });
    this._token = token;
    this._tokenGeneration += 1;
    if (Number.isFinite(result.expires_at)) this.expiresAt = result.expires_at;
  }

  /** Close the connection and stop reconnecting. */
  async shutdown() {
    if (this._shutDown) return;
    this._shutDown = true;
    const socket = this._socket;
    this._socket = null;
    if (socket) socket.close(1000, "client shutdown");
    this._finish(
      this.state === ConnectionState.DENIED ? ConnectionState.DENIED : ConnectionState.DISCONNECTED,
    );
    // Deliver what is queued; from inside a callback that would wait for itself, so just stop.
    if (!this._events.inCallback) await this._events.drained();
  }

  // -- events ------------------------------------------------------------------------------
  /**
   * @param {string} event
   * @param {...unknown} args
   */
  _emit(event, ...args) {
    this._events.emit(event, ...args);
  }

  /** @param {State} state */
  _setState(state) {
    if (state !== this.state) {
      this.state = state;
      this._emit("connection_state_changed", state);
    }
  }

  // -- commands ----------------------------------------------------------------------------
  /**
   * Send a command once connected (waiting up to the timeout for a reconnect).
   * @param {string} kind
   * @param {Record<string, unknown>} params
   * @returns {Promise<Json>}
   */
  async _command(kind, params) {
    if (!this._isReady() && !this._finished) await this._waitReady();
    if (this._finished || this._socket === null || !this._isReady()) {
      throw new NotConnected(`the client is ${this.state}`);
    }
    return this._send(this._socket, kind, params);
  }

  _isReady() {
    return this._socket !== null && this.state === ConnectionState.CONNECTED;
  }

  /** @returns {Promise<void>} */
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

  /**
   * @param {Connection} socket
   * @param {string} kind
   * @param {Record<string, unknown>} params
   * @returns {Promise<Json>}
   */
  async _send(socket, kind, params) {
    const wait = this._pacer.delay(performance.now());
    if (wait > 0) await sleep(wait);
    const id = this._requests.nextId();
    const text = encodeCommand(id, kind, params);
    if (!socket.isOpen) throw new NotConnected("the connection is not open");
    const reply = await this._requests.wait(id, kind, () => socket.send(text));
    if (!reply.ok) throw new ChatError(reply.error);
    return reply.result || {};
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
    const pushed = this.identity === null ? undefined : this._early.get(this.identity);
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
    const opening = Connection.open(this.url, this._timeout, {
      onFrame: (text) => this._onFrame(text),
      onClose: (socket, code, reason) => this._onClose(socket, code, reason),
    });
    this.connections += 1;
    return opening;
  }

  /** @param {string} text */
  _onFrame(text) {
    let frame;
    try {
      frame = decode(text);
    } catch {
      console.warn("ignoring a malformed frame from the server");
      return;
    }
    if (frame === null) return;
    if (frame.type === "reply") {
      this._requests.settle(frame);
      return;
    }
    try {
      this._onPush(frame.type, frame);
    } catch (error) {
      console.error(`could not handle a ${frame.type} push`, error);
    }
  }

  /**
   * @param {Connection} socket
   * @param {number} code
   * @param {string} reason
   */
  _onClose(socket, code, reason) {
    const wasCurrent = this._socket === socket;
    if (wasCurrent) this._socket = null;
    if (!wasCurrent && this._socket !== null) return; // an old socket; a newer one is up
    this.closeCode = code;
    this.closeReason = reason || "";
    this._requests.failAll("the connection dropped");
    this._dropped();
    if (!wasCurrent || this._finished) return; // create() or a reconnect attempt handles it
    const action = afterClose(code, this._provider !== null);
    if (action === "reconnect" || action === "refresh") {
      this._reconnect(action === "refresh");
    } else {
      this._finish(action === "denied" ? ConnectionState.DENIED : ConnectionState.DISCONNECTED);
    }
  }

  /**
   * Try until connected, or until the token is refused for good.
   * @param {boolean} refresh whether to fetch a new token first
   */
  async _reconnect(refresh) {
    this._setState(ConnectionState.CONNECTING);
    if (performance.now() - this._connectedAt >= STABLE_AFTER) this._backoff.reset();
    while (!this._finished) {
      await sleep(this._backoff.nextDelay() * 1000);
      if (this._finished) return;
      if (refresh && this._provider) {
        try {
          this._token = await this._provider();
          this._tokenGeneration += 1;
        } catch (error) {
          if (detail(error, "fatal")) {
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

  /** @param {State} state */
  _finish(state) {
    this._finished = true;
    this._requests.failAll(`the client is ${state}`);
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
          if (detail(error, "fatal")) {
            this._deny("the token provider refused: signed out");
            return;
          }
          wait = backoff.nextDelay() * 1000;
          // A 429 says how long to wait (seconds); asking sooner only gets another 429.
          const after = Number(detail(error, "retryAfter"));
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

  /**
   * The token can no longer be renewed (the user signed out): close and stop as denied.
   * @param {string} why
   */
  _deny(why) {
    const socket = this._socket;
    this._socket = null;
    this._finish(ConnectionState.DENIED);
    if (socket) socket.close(1000, why);
  }

  // -- what the chat on top does (ChatClient overrides these) ------------------------------
  /**
   * After (re)authenticating: bring the application's view up to date.
   * @param {boolean} _retry whether to keep trying while the connection lasts
   * @returns {Promise<void>}
   */
  async _resync(_retry) {}

  /**
   * A push (not a reply) from the server.
   * @param {string} _kind
   * @param {Json} _data
   */
  _onPush(_kind, _data) {}

  /** The connection dropped: pushes from now on may be out of order until resynced. */
  _dropped() {}
}
