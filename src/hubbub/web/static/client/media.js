// @ts-check
// Files in messages: the media service over HTTP (hubbub.client.media). An upload is
// POST {media}?Category=media&Filename=NAME with the bytes as the body and the Access Token in
// X-Twilio-Token; its answer's `sid` (ME…) is what send_message names. A media record
// (GET {media}/{sid}) links to the bytes at a short-lived URL that needs no header
// (`links.content_direct_temporary`), fit for an <img src>.

import { ChatError } from "./errors.js";

/** @typedef {import("./models.js").Json} Json */

/**
 * The media service of the server behind a WebSocket URL (ws://host/v1/ws).
 * @param {string} wsUrl
 * @param {string} serviceSid
 */
export function mediaUrl(wsUrl, serviceSid) {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  const prefix = url.pathname.replace(/\/v1\/ws$/, "").replace(/\/$/, "");
  url.pathname = `${prefix}/v1/Services/${serviceSid}/Media`;
  url.search = "";
  return url.toString();
}

/** The media service of one client; its URL and token are the client's as they are now. */
export class MediaService {
  /**
   * @param {() => string} url
   * @param {() => string | null} token
   */
  constructor(url, token) {
    this._url = url;
    this._token = token;
  }

  /**
   * Upload a file; resolves to its media record (`sid`, `filename`, `content_type`, `size`).
   * @param {Blob} data a File or Blob
   * @param {{filename?: string | null, contentType?: string | null}} [options] the name
   *   defaults to a File's, the type to the Blob's
   * @returns {Promise<Json>}
   */
  async upload(data, { filename = null, contentType = null } = {}) {
    const url = new URL(this._url());
    url.searchParams.set("Category", "media");
    const name = filename ?? (typeof File !== "undefined" && data instanceof File ? data.name : "");
    if (name) url.searchParams.set("Filename", name);
    const type = contentType || data.type || "application/octet-stream";
    return this._request(url.toString(), { method: "POST", body: data, type });
  }

  /**
   * A URL of the media's bytes that needs no token, valid a few minutes.
   * @param {string} sid
   * @returns {Promise<string>}
   */
  async contentUrl(sid) {
    const record = await this._request(`${this._url()}/${encodeURIComponent(sid)}`, {});
    const link = record.links && record.links.content_direct_temporary;
    if (typeof link !== "string" || !link) {
      throw new ChatError({ message: `the media service gave no content URL for ${sid}` });
    }
    return new URL(link, this._url()).toString();
  }

  /**
   * @param {string} url
   * @param {{method?: string, body?: Blob, type?: string}} request
   * @returns {Promise<Json>}
   */
  async _request(url, { method = "GET", body, type }) {
    const token = this._token();
    if (!token) throw new ChatError({ message: "no Access Token to reach the media service with" });
    /** @type {Record<string, string>} */
    const headers = { "X-Twilio-Token": token };
    if (type) headers["Content-Type"] = type;
    const response = await fetch(url, { method, body, headers });
    /** @type {any} */
    let answer = null;
    try {
      answer = await response.json();
    } catch {
      answer = null;
    }
    if (!response.ok) {
      // Twilio's shape ({code, message, status}) when the service said why.
      const said = answer && typeof answer === "object" && "code" in answer;
      throw new ChatError(
        said ? answer : { message: `the media service answered ${response.status}`, status: response.status },
      );
    }
    if (!answer || typeof answer !== "object") {
      throw new ChatError({ message: "the media service answered with something other than a record" });
    }
    return answer;
  }
}
