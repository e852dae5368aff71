// @ts-check
// Records from the server's JSON, in camelCase (hubbub.client.models). Each is frozen and
// keeps the JSON it came from as `raw`.

/** JSON from the server, loosely typed: each record checks what it takes.
 * @typedef {Record<string, any>} Json */

/**
 * A timestamp in the server's one format, else null.
 * @param {unknown} value
 */
export function parseDate(value) {
  return typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(value)
    ? new Date(value)
    : null;
}

/**
 * Attributes as the server stores them (a JSON string), parsed; a string that is not JSON is
 * kept as it is.
 * @param {unknown} value
 * @returns {any}
 */
export function parseAttributes(value) {
  if (typeof value !== "string") return value ?? {};
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * @param {unknown} value
 * @returns {number | null}
 */
export function intOrNull(value) {
  return Number.isInteger(value) ? /** @type {number} */ (value) : null;
}

/**
 * A message as the REST API renders it, in camelCase; `author` is the REST API's `from`.
 * @param {Json} data
 * @param {string | null} [channelSid]
 */
export function toMessage(data, channelSid = null) {
  return Object.freeze({
    sid: String(data.sid ?? ""),
    channelSid: String(data.channel_sid || channelSid || ""),
    index: intOrNull(data.index) ?? -1,
    author: String(data.from ?? ""),
    body: String(data.body ?? ""),
    attributes: parseAttributes(data.attributes),
    type: String(data.type ?? "text"),
    media: data.media && typeof data.media === "object" ? toMedia(data.media) : null,
    wasEdited: Boolean(data.was_edited),
    /** @type {string | null} */
    lastUpdatedBy: data.last_updated_by ?? null,
    dateCreated: parseDate(data.date_created),
    dateUpdated: parseDate(data.date_updated),
    raw: data,
  });
}

/**
 * The file a media message carries (hubbub.client.Media); its bytes are at
 * `client.getMediaContentUrl(media)`.
 * @param {Json} data
 */
export function toMedia(data) {
  return Object.freeze({
    sid: String(data.sid ?? ""),
    /** @type {string | null} */
    filename: typeof data.filename === "string" ? data.filename : null,
    contentType: String(data.content_type || "application/octet-stream"),
    size: intOrNull(data.size) ?? 0,
  });
}

/**
 * A channel membership.
 * @param {Json} data
 * @param {string | null} [channelSid]
 */
export function toMember(data, channelSid = null) {
  return Object.freeze({
    sid: String(data.sid ?? ""),
    channelSid: String(data.channel_sid || channelSid || ""),
    identity: String(data.identity ?? ""),
    /** @type {string | null} */
    roleSid: data.role_sid ?? null,
    lastConsumedMessageIndex: intOrNull(data.last_consumed_message_index),
    lastConsumptionTimestamp: parseDate(data.last_consumption_timestamp),
    attributes: parseAttributes(data.attributes),
    dateCreated: parseDate(data.date_created),
    dateUpdated: parseDate(data.date_updated),
    raw: data,
  });
}

/**
 * A user; `isOnline` is null unless the service tracks reachability.
 * @param {Json} data
 */
export function toUser(data) {
  return Object.freeze({
    sid: String(data.sid ?? ""),
    identity: String(data.identity ?? ""),
    /** @type {string | null} */
    friendlyName: data.friendly_name ?? null,
    attributes: parseAttributes(data.attributes),
    /** @type {string | null} */
    roleSid: data.role_sid ?? null,
    /** @type {boolean | null} */
    isOnline: typeof data.is_online === "boolean" ? data.is_online : null,
    /** @type {boolean | null} */
    isNotifiable: typeof data.is_notifiable === "boolean" ? data.is_notifiable : null,
    raw: data,
  });
}

/** @typedef {ReturnType<typeof toMessage>} Message */
/** @typedef {ReturnType<typeof toMember>} Member */
/** @typedef {ReturnType<typeof toMedia>} Media */
/** @typedef {ReturnType<typeof toUser>} User */
/** @typedef {Readonly<{channelSid: string, identity: string}>} Typing */
