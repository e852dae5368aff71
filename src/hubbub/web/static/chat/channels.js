// @ts-check
// The sidebar's channels: opening one, joining, declining, creating, and keeping the lists
// current as channels come and go.

import { phrase, ui } from "./dom.js";
import { sortedChannels, state, track } from "./state.js";
import {
  renderChannels,
  renderConversation,
  renderInvites,
  renderMessages,
  renderPublic,
  scrollToBottom,
  showError,
} from "./render.js";
import { fillHistory, loadLatest, markRead } from "./conversation.js";
import { loadMembers } from "./members.js";

/** @typedef {import("../hubbub-client.js").Channel} Channel */

/**
 * Show a joined channel: its history (loaded the first time), members, read horizon.
 * @param {string} sid
 */
export async function selectChannel(sid) {
  const entry = state.channels.get(sid);
  if (!entry || entry.channel.status !== "joined") return;
  state.current = sid;
  renderChannels();
  renderConversation();
  const members = loadMembers(entry);
  if (!entry.loaded) await loadLatest(entry);
  if (state.current === sid) {
    renderMessages(entry);
    scrollToBottom();
    await fillHistory(entry);
    await markRead(entry);
  }
  await members;
}

/** Channels joined and invitations received while the connection was down. */
export async function refreshSubscriptions() {
  const client = state.client;
  if (!client) return;
  try {
    const channels = await client.getSubscribedChannels();
    if (state.client !== client) return;
    for (const channel of channels) track(channel);
  } catch (error) {
    console.warn("could not refresh the channel list", error);
    return;
  }
  renderChannels();
  renderInvites();
  renderPublic();
}

/** The public channels (up to 500), for the "Public channels" list. */
export async function refreshPublic() {
  const client = state.client;
  if (!client) return;
  try {
    const found = [];
    let page = await client.getPublicChannels(100);
    found.push(...page.items);
    while (page.hasNextPage && found.length < 500) {
      page = await page.nextPage();
      found.push(...page.items);
    }
    if (state.client !== client) return;
    state.publicChannels = found;
  } catch (error) {
    showError(error);
  }
  renderPublic();
}

/** @param {Channel} channel */
export async function joinChannel(channel) {
  try {
    await channel.join();
    showError(null);
  } catch (error) {
    showError(error);
    return;
  }
  const entry = track(channel);
  entry.unread = 0;
  ui.notice.textContent = "";
  renderChannels();
  renderInvites();
  renderPublic();
  await selectChannel(channel.sid);
  ui.message.focus();
}

/** @param {Channel} channel */
export async function declineInvite(channel) {
  try {
    await channel.decline();
    showError(null);
  } catch (error) {
    showError(error);
    return;
  }
  state.channels.delete(channel.sid);
  ui.notice.replaceChildren(...phrase`Declined the invitation to ${channel.name}.`);
  renderInvites();
  renderPublic();
}

ui.createForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = ui.newChannel.value.trim();
  if (!name || !state.client) return;
  try {
    const channel = await state.client.createChannel({ friendlyName: name });
    showError(null);
    ui.newChannel.value = "";
    const entry = track(channel);
    entry.loaded = entry.complete = true; // a new channel has no history
    renderChannels();
    await selectChannel(channel.sid);
    ui.message.focus();
  } catch (error) {
    showError(error);
  }
});

// -- pushes -----------------------------------------------------------------------------------
/** @param {Channel} channel */
export function onChannelInvited(channel) {
  if (channel.status !== "invited") return;
  track(channel);
  ui.notice.replaceChildren(...phrase`You are invited to ${channel.name}.`);
  renderInvites();
  renderPublic();
}

/** @param {Channel} channel joined here or in another tab of the same person */
export function onChannelJoined(channel) {
  const entry = track(channel);
  if (entry.unread === null) entry.unread = 0;
  renderChannels();
  renderInvites();
  renderPublic();
}

/** @param {Channel} channel left or removed */
export function onChannelGone(channel) {
  state.channels.delete(channel.sid);
  state.members.delete(channel.sid);
  state.memberLoads.delete(channel.sid);
  state.typing.delete(channel.sid);
  if (state.current === channel.sid) {
    state.current = null;
    const next = sortedChannels()[0];
    if (next) selectChannel(next.channel.sid);
    else renderConversation();
  }
  renderChannels();
  renderInvites();
  refreshPublic();
}
