// @ts-check
// Frames of the real-time protocol (docs/protocol.md) and the commands awaiting replies
// (hubbub.client.protocol). No I/O.

import { CommandTimeout, NotConnected } from "./errors.js";

/** The largest frame the server accepts, in bytes of UTF-8. */
export const MAX_FRAME = 64 * 1024;

/** A frame from the server: a reply (`type: "reply"`, `id`, `ok`, `result` or `error`) or a
 * push (`type` names the event, the rest is its data). JSON, so loosely typed.
 * @typedef {Record<string, any>} Frame */

/**
 * One command as a text frame; a RangeError rather than a frame the server refuses.
 * @param {number} id
 * @param {string} kind
 * @param {Record<string, unknown>} params
 */
export function encodeCommand(id, kind, params) {
  // id and type first: a frame cut short in a log still says what it was, token unseen.
  const text = JSON.stringify({ id, type: kind, ...params });
  if (new TextEncoder().encode(text).length > MAX_FRAME) {
    throw new RangeError(`a ${kind} command does not fit in ${MAX_FRAME} bytes`);
  }
  return text;
}

/**
 * Parse one frame from the server: null if it is not a JSON object; throws a SyntaxError if
 * it is not JSON at all.
 * @param {string} text
 * @returns {Frame | null}
 */
export function decode(text) {
  const frame = JSON.parse(text);
  return frame && typeof frame === "object" ? frame : null;
}

/** @typedef {{resolve: (reply: Frame) => void, reject: (error: Error) => void, timer: ReturnType<typeof setTimeout>}} Pending */

/**
 * Commands in flight: increasing ids, each with a deadline. A reply settles at most one
 * command; one to an id nobody waits for (its caller timed out) is dropped.
 */
export class Requests {
  /** @param {number} timeout milliseconds to wait for each reply */
  constructor(timeout) {
    this.timeout = timeout;
    this._nextId = 1;
    /** @type {Map<number, Pending>} */
    this._pending = new Map();
  }

  /** The id for the next command. */
  nextId() {
    return this._nextId++;
  }

  /**
   * Send a command with `send()` and wait for its reply (CommandTimeout after the timeout).
   * @param {number} id
   * @param {string} kind
   * @param {() => void} send
   * @returns {Promise<Frame>}
   */
  wait(id, kind, send) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new CommandTimeout(`no reply to ${kind} within ${this.timeout / 1000} s`));
      }, this.timeout);
      this._pending.set(id, { resolve, reject, timer });
      send();
    });
  }

  /** @param {Frame} reply a frame of type "reply" */
  settle(reply) {
    const pending = this._pending.get(reply.id);
    if (pending) {
      this._pending.delete(reply.id);
      clearTimeout(pending.timer);
      pending.resolve(reply);
    }
  }

  /**
   * Fail every command in flight: the connection they were sent on is gone.
   * @param {string} why
   */
  failAll(why) {
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const { reject, timer } of pending) {
      clearTimeout(timer);
      reject(new NotConnected(why));
    }
  }
}
