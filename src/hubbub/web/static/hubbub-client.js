// @ts-check
// hubbub's browser client: the real-time protocol of docs/protocol.md, as ES modules.
//
// It mirrors the Python SDK (hubbub.client), one module per part under client/: the same
// commands, the same event names (as strings, snake_case), the same behaviour on close codes
// (reconnect with backoff, fetch a new token first when the old one is refused, give up when
// trying again cannot help), token renewal in place on `token_about_to_expire`, and catch-up
// by message index after a reconnect so that no message is missed or repeated. Methods are
// camelCase, as is usual in JavaScript; docs/browser.md lists them. This module is the public
// API: import from it, not from client/.

export { Channel, Paginator } from "./client/channel.js";
export { ChatClient, defaultUrl } from "./client/client.js";
export { ChatError, CommandTimeout, NotConnected } from "./client/errors.js";
export { ConnectionState, EVENTS } from "./client/events.js";
export { MediaService, mediaUrl } from "./client/media.js";
export { toMedia, toMember, toMessage, toUser } from "./client/models.js";
export { Backoff, CloseCode, afterClose } from "./client/policy.js";
export { MAX_FRAME } from "./client/protocol.js";
export { Timeline } from "./client/timeline.js";

/** @typedef {import("./client/models.js").Message} Message */
/** @typedef {import("./client/models.js").Member} Member */
/** @typedef {import("./client/models.js").Media} Media */
/** @typedef {import("./client/models.js").User} User */
/** @typedef {import("./client/models.js").Typing} Typing */
/** @typedef {import("./client/channel.js").MemberEntry} MemberEntry */
/** @typedef {import("./client/channel.js").MessagePage} MessagePage */
/** @typedef {import("./client/events.js").State} State */
/** @typedef {import("./client/session.js").Options} Options */
