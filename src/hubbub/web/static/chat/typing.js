// @ts-check
// Who is typing: others' typing_started/typing_ended, and our own typing signal.

import { ui } from "./dom.js";
import { currentEntry, state } from "./state.js";
import { renderTyping } from "./render.js";

/** Send `typing` at most this often while the user keeps typing (ms). */
const TYPING_EVERY = 2000;

/**
 * Someone started or stopped typing in a channel.
 * @param {string} sid
 * @param {string} identity
 * @param {boolean} typing
 */
export function setTyping(sid, identity, typing) {
  if (identity === state.identity) return;
  let who = state.typing.get(sid);
  if (who === undefined) {
    who = new Set();
    state.typing.set(sid, who);
  }
  const changed = typing ? !who.has(identity) : who.has(identity);
  if (!changed) return;
  if (typing) who.add(identity);
  else who.delete(identity);
  if (sid === state.current) renderTyping();
}

ui.message.addEventListener("input", () => {
  const entry = currentEntry();
  if (!entry || !ui.message.value.trim()) return;
  const now = Date.now();
  if (now - state.lastTyping < TYPING_EVERY) return;
  state.lastTyping = now;
  entry.channel.typing().catch((error) => console.warn("typing failed", error));
});
