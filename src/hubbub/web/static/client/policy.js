// @ts-check
// What to do when the connection ends, and how long to wait before trying again
// (hubbub.client.policy and hubbub.client.pacing). No I/O.

/** Close codes the server uses (1006 is what a dropped connection looks like). */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  ABNORMAL: 1006,
  SERVER_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  AUTH_TIMEOUT: 4000,
  TOKEN_INVALID: 4001,
  TOKEN_EXPIRED: 4002,
  KEY_REVOKED: 4003,
  GONE: 4004,
  PROTOCOL_VIOLATION: 4008,
  FRAME_TOO_LARGE: 4009,
  RATE_LIMITED: 4029,
});

/** Codes that say the token is no good: a provider can fetch another, a fixed token cannot. */
export const TOKEN_CODES = new Set(/** @type {number[]} */ ([
  CloseCode.TOKEN_INVALID,
  CloseCode.TOKEN_EXPIRED,
  CloseCode.KEY_REVOKED,
]));

/** Codes after which trying again cannot help: the service is gone, or this client is broken.
 * 1002/1003/1007/1008/1009/1010 are WebSocket-level versions of the same complaint. */
export const FATAL_CODES = new Set(/** @type {number[]} */ ([
  CloseCode.GONE,
  CloseCode.PROTOCOL_VIOLATION,
  CloseCode.FRAME_TOO_LARGE,
  1002,
  1003,
  1007,
  1008,
  1009,
  1010,
]));

/** @typedef {"stop" | "reconnect" | "refresh" | "denied" | "give up"} Action */

/**
 * The next step after the server closed with `code`: "refresh" means a new token, then
 * reconnect. Anything not known to be fatal is retried, with backoff.
 * @param {number} code
 * @param {boolean} canRefresh whether a token provider can fetch another token
 * @returns {Action}
 */
export function afterClose(code, canRefresh) {
  if (code === CloseCode.NORMAL) return "stop";
  if (TOKEN_CODES.has(code)) return canRefresh ? "refresh" : "denied";
  if (FATAL_CODES.has(code)) return "give up";
  return "reconnect";
}

/** Exponential, capped and jittered delays (seconds) between reconnection attempts. */
export class Backoff {
  /** @param {{initial?: number, cap?: number, factor?: number}} [options] */
  constructor({ initial = 0.5, cap = 30, factor = 2 } = {}) {
    this.initial = initial;
    this.cap = cap;
    this.factor = factor;
    this.attempts = 0;
    this._ceiling = initial;
  }

  /** The wait before the next attempt; each call counts as one attempt. */
  nextDelay() {
    const ceiling = this._ceiling;
    this._ceiling = Math.min(this.cap, ceiling * this.factor);
    this.attempts += 1;
    // Jitter: clients dropped together by a restart must not all come back at once.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  /** A connection held: start again from short delays. */
  reset() {
    this.attempts = 0;
    this._ceiling = this.initial;
  }
}

/** A token bucket a little below the server's 50 commands a second (burst 100). */
export class Pacer {
  constructor(rate = 40, burst = 80) {
    this.rate = rate;
    this.burst = burst;
    this._tokens = burst;
    /** @type {number | null} */
    this._stamp = null;
  }

  /**
   * Take one token; the wait (ms) it implies.
   * @param {number} now milliseconds, e.g. `performance.now()`
   */
  delay(now) {
    if (this._stamp !== null) {
      this._tokens = Math.min(this.burst, this._tokens + ((now - this._stamp) / 1000) * this.rate);
    }
    this._stamp = now;
    this._tokens -= 1;
    return this._tokens >= 0 ? 0 : (-this._tokens / this.rate) * 1000;
  }
}
