// @ts-check
// The open channel's history: loading it page by page as the reader scrolls up, the read
// horizon, live message events, and the composer.

import { ui } from "./dom.js";
import {
  currentEntry,
  newestIndex,
  oldestIndex,
  remember,
  state,
  viewing,
} from "./state.js";
import {
  nearBottom,
  placeMessage,
  removeMessage,
  renderChannels,
  renderHistoryEdge,
  scrollToBottom,
  showError,
} from "./render.js";
import { setTyping } from "./typing.js";

/** @typedef {import("../hubbub-client.js").Message} Message */
/** @typedef {import("../hubbub-client.js").MessagePage} MessagePage */
/** @typedef {import("./state.js").Entry} Entry */

/** Messages per history page (the server allows up to 100). */
const PAGE_SIZE = 30;
/** Start loading older messages when the history is scrolled this close to its top (px). */
export const NEAR_TOP = 48;

// -- history ----------------------------------------------------------------------------------
/**
 * The newest page of a channel, the first time it is opened.
 * @param {Entry} entry
 */
export async function loadLatest(entry) {
  const page = await loadPage(entry, null);
  entry.loaded = true;
  if (page && page.length < PAGE_SIZE && !page.truncated) entry.complete = true;
}

/**
 * One page of history ending at `anchor` (the newest if null), merged into the entry.
 * @param {Entry} entry
 * @param {number | null} anchor
 * @returns {Promise<MessagePage | null>}
 */
function loadPage(entry, anchor) {
  if (entry.loading) return entry.loading;
  entry.loading = (async () => {
    try {
      const page = await entry.channel.getMessages(PAGE_SIZE, anchor, "backwards");
      for (const message of page) remember(entry, message);
      if ((page.length < PAGE_SIZE && !page.truncated) || page[0]?.index === 0) {
        entry.complete = true;
      }
      return page;
    } catch (error) {
      showError(error);
      return null;
    } finally {
      entry.loading = null;
    }
  })();
  return entry.loading;
}

/** Load the page before the oldest message shown, keeping what is on screen in place. */
async function loadOlder() {
  const entry = currentEntry();
  if (!entry || entry.complete || entry.loading) return;
  const oldest = oldestIndex(entry);
  if (oldest === null || oldest <= 0) {
    entry.complete = true;
    renderHistoryEdge(entry);
    return;
  }
  const before = ui.history.scrollHeight - ui.history.scrollTop;
  ui.history.setAttribute("aria-busy", "true");
  const page = await loadPage(entry, oldest - 1);
  ui.history.removeAttribute("aria-busy");
  if (state.current !== entry.channel.sid || !page) return;
  for (const message of page) placeMessage(message);
  renderHistoryEdge(entry);
  // The messages above grew the log: keep the one the reader was looking at where it was.
  ui.history.scrollTop = ui.history.scrollHeight - before;
}

/**
 * Until the log overflows (so that scrolling is possible), keep loading older pages.
 * @param {Entry} entry
 */
export async function fillHistory(entry) {
  while (
    state.current === entry.channel.sid &&
    !entry.complete &&
    ui.history.scrollHeight <= ui.history.clientHeight + NEAR_TOP
  ) {
    const count = entry.messages.size;
    await loadOlder();
    if (entry.messages.size === count) break;
  }
}

ui.history.addEventListener("scroll", () => {
  if (ui.history.scrollTop <= NEAR_TOP) loadOlder();
});
ui.older.addEventListener("click", async () => {
  await loadOlder();
  ui.history.focus();
});

// -- reading ----------------------------------------------------------------------------------
/**
 * Move the read horizon to the newest message shown; the server answers with the count.
 * @param {Entry} entry
 * @param {number | null} [index]
 */
export async function markRead(entry, index = newestIndex(entry)) {
  if (index === null || index === undefined) {
    entry.unread = 0;
    renderChannels();
    return;
  }
  try {
    entry.unread = await entry.channel.updateLastConsumedMessageIndex(index);
  } catch (error) {
    showError(error);
  }
  renderChannels();
}

document.addEventListener("visibilitychange", () => {
  const entry = currentEntry();
  if (!document.hidden && entry?.loaded) markRead(entry);
});

// -- live events ------------------------------------------------------------------------------
/** @param {Message} message */
export async function onMessageAdded(message) {
  const entry = state.channels.get(message.channelSid);
  if (!entry) return;
  const mine = message.author === state.identity;
  if (entry.loaded) remember(entry, message);
  setTyping(message.channelSid, message.author, false);
  if (state.current === message.channelSid && entry.loaded) {
    const follow = mine || nearBottom();
    placeMessage(message);
    if (follow) scrollToBottom();
  }
  if (viewing(message.channelSid)) {
    await markRead(entry, message.index);
  } else if (!mine) {
    entry.unread = (entry.unread || 0) + 1;
    renderChannels();
  }
}

/** @param {Message} message */
export function onMessageChanged(message) {
  const entry = state.channels.get(message.channelSid);
  if (!entry || !entry.messages.has(message.index)) return;
  entry.messages.set(message.index, message);
  if (state.current === message.channelSid) placeMessage(message);
}

/** @param {Message} message */
export function onMessageRemoved(message) {
  const entry = state.channels.get(message.channelSid);
  if (!entry) return;
  entry.messages.delete(message.index);
  if (state.current === message.channelSid) removeMessage(message.index);
}

// -- composer ---------------------------------------------------------------------------------
ui.message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.isComposing) {
    event.preventDefault();
    ui.composer.requestSubmit();
  }
});

ui.composer.addEventListener("submit", async (event) => {
  event.preventDefault();
  const entry = currentEntry();
  const body = ui.message.value;
  if (!entry || !body.trim()) return;
  ui.message.value = "";
  state.lastTyping = 0;
  try {
    await entry.channel.sendMessage(body);
    showError(null);
  } catch (error) {
    // Give the text back so that nothing typed is lost.
    if (!ui.message.value) ui.message.value = body;
    showError(error);
  }
});

// A chosen file is sent at once, in a message of its own (the text being typed stays).
ui.attachFile.addEventListener("change", async () => {
  const entry = currentEntry();
  const file = ui.attachFile.files && ui.attachFile.files[0];
  ui.attachFile.value = "";
  if (!entry || !file) return;
  ui.attachFile.disabled = true;
  try {
    await entry.channel.sendMessage(null, undefined, { media: file });
    showError(null);
  } catch (error) {
    showError(error);
  } finally {
    ui.attachFile.disabled = !currentEntry();
  }
});
