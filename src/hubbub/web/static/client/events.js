// @ts-check
// Event names, connection states, and the emitter that calls the application's callbacks
// (hubbub.client.events). Callbacks run one at a time, in the order the events happened.

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

/** @typedef {typeof ConnectionState[keyof typeof ConnectionState]} State */

/** A sync or async function; what it returns (or resolves to) is ignored.
 * @typedef {(...args: any[]) => unknown} Callback */

/** Listeners per event, and one chain of promises that delivers events to them in order. */
export class Emitter {
  constructor() {
    /** @type {Map<string, Callback[]>} */
    this._listeners = new Map();
    this._delivery = Promise.resolve();
    /** Whether a callback is running (waiting for the queue from inside it would deadlock). */
    this.inCallback = false;
  }

  /**
   * @param {string} event one of EVENTS
   * @param {Callback} callback
   */
  on(event, callback) {
    if (!EVENTS.includes(event)) throw new Error(`unknown event ${JSON.stringify(event)}`);
    let listeners = this._listeners.get(event);
    if (listeners === undefined) {
      listeners = [];
      this._listeners.set(event, listeners);
    }
    listeners.push(callback);
  }

  /**
   * @param {string} event
   * @param {Callback} callback
   */
  off(event, callback) {
    const listeners = this._listeners.get(event) || [];
    const at = listeners.indexOf(callback);
    if (at >= 0) listeners.splice(at, 1);
  }

  /**
   * Queue an event; it is delivered after those queued before it.
   * @param {string} event
   * @param {...unknown} args
   */
  emit(event, ...args) {
    // Each callback (awaited if async) runs after the previous one.
    this._delivery = this._delivery.then(async () => {
      for (const callback of [...(this._listeners.get(event) || [])]) {
        this.inCallback = true;
        try {
          await callback(...args);
        } catch (error) {
          console.error(`a ${event} callback threw`, error);
        } finally {
          this.inCallback = false;
        }
      }
    });
  }

  /** Resolves once every event queued so far is delivered. */
  drained() {
    return this._delivery;
  }
}
