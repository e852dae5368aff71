// @ts-check
// What the client throws (hubbub.client.errors).

/** A command the server answered with an error, in Twilio's shape. */
export class ChatError extends Error {
  /** @param {{message?: string, code?: number, status?: number, more_info?: string} | undefined} error */
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
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "NotConnected";
  }
}

/** No reply in time. */
export class CommandTimeout extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "CommandTimeout";
  }
}

/**
 * A property of something thrown, which need not be an Error: a token provider may throw
 * anything, and says "stop trying" with `fatal` and "wait" with `retryAfter`.
 * @param {unknown} error
 * @param {string} name
 * @returns {unknown}
 */
export function detail(error, name) {
  return typeof error === "object" && error !== null
    ? /** @type {Record<string, unknown>} */ (error)[name]
    : undefined;
}
