// @ts-check
// The token server: /login, /logout and /token, JSON with same-origin cookies; and how its
// errors (and the chat's) are told to the user.

import { ChatError } from "../hubbub-client.js";

/** A refusal from the token server, with its status and any Retry-After. */
export class HttpError extends Error {
  /**
   * @param {Response} response
   * @param {{message?: string, code?: number} | null} body
   */
  constructor(response, body) {
    super(body?.message || `HTTP ${response.status}`);
    this.status = response.status;
    this.code = body?.code ?? null;
    this.retryAfter = Number(response.headers.get("Retry-After")) || null;
  }
}

/**
 * POST JSON to the token server; resolves to the JSON answer (null if empty).
 * @param {string} path
 * @param {object} [body]
 * @returns {Promise<any>}
 */
export async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new HttpError(response, data);
  return data;
}

/**
 * A fresh token for the signed-in person, or null if nobody is signed in (401).
 * @returns {Promise<{token: string} | null>}
 */
export async function fetchToken() {
  try {
    return await post("/token");
  } catch (error) {
    if (error instanceof HttpError && error.status === 401) return null;
    throw error;
  }
}

/** The chat client's token provider: a sign-in session that ended is final. */
export async function provideToken() {
  const info = await fetchToken();
  if (info === null) throw Object.assign(new Error("the sign-in session ended"), { fatal: true });
  return info.token;
}

/**
 * What went wrong, in a sentence for the user.
 * @param {unknown} error
 */
export function describe(error) {
  if (error instanceof HttpError) {
    if (error.status === 429) {
      const wait = error.retryAfter ? ` in ${error.retryAfter} s` : " later";
      return `Too many attempts; try again${wait}.`;
    }
    if (error.status === 503) return "The sign-in service is unavailable; try again soon.";
    return error.message;
  }
  if (error instanceof ChatError) return `${error.message} (${error.code})`;
  const message = typeof error === "object" && error !== null ? Reflect.get(error, "message") : null;
  return message ? String(message) : String(error);
}
