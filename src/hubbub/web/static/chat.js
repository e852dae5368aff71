// @ts-check
// The chat page: sign in, channels with unread counts, history with infinite scroll, composer,
// typing indicator, presence, sign out. It talks to the server through two doors only: the
// token server's /login, /logout and /token (JSON, same-origin cookies), and the real-time
// protocol through hubbub-client.js.
//
// This module starts and stops the chat and routes the client's events; the rest is in chat/:
// state.js (what the page knows), render.js (drawing it), account.js (the token server), and
// channels.js, conversation.js, typing.js and members.js (what the user and the server do).

import { ChatClient, ConnectionState } from "./hubbub-client.js";
import { HttpError, describe, fetchToken, post, provideToken } from "./chat/account.js";
import {
  declineInvite,
  joinChannel,
  onChannelGone,
  onChannelInvited,
  onChannelJoined,
  refreshPublic,
  refreshSubscriptions,
  selectChannel,
} from "./chat/channels.js";
import { onMessageAdded, onMessageChanged, onMessageRemoved } from "./chat/conversation.js";
import { isolated, ui } from "./chat/dom.js";
import { loadMembers, onMemberUpdated, onUserUpdated, setMember } from "./chat/members.js";
import { forgetNotifications, offerNotifications } from "./chat/push.js";
import {
  bindActions,
  clearChat,
  renderChannels,
  renderConversation,
  renderInvites,
  showConnection,
  showSignIn,
} from "./chat/render.js";
import { currentEntry, resetState, sortedChannels, state, track } from "./chat/state.js";
import { setTyping } from "./chat/typing.js";

/** @typedef {import("./hubbub-client.js").Member} Member */
/** @typedef {import("./hubbub-client.js").Typing} Typing */

bindActions({ select: selectChannel, join: joinChannel, decline: declineInvite });

// -- sign in and out --------------------------------------------------------------------------
ui.signinForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const username = ui.username.value.trim();
  const password = ui.password.value;
  if (!username || !password) {
    showSignIn("Enter your username and password.");
    return;
  }
  const button = /** @type {HTMLButtonElement} */ (ui.signinForm.querySelector("button"));
  button.disabled = true;
  try {
    await post("/login", { username, password });
    const info = await fetchToken();
    if (info === null) throw new Error("Signed in, but no token was issued; try again.");
    await startChat(info);
  } catch (error) {
    const wrong = error instanceof HttpError && error.status === 401;
    showSignIn(wrong ? "Wrong username or password." : describe(error));
  } finally {
    button.disabled = false;
  }
});

ui.signout.addEventListener("click", async () => {
  ui.signout.disabled = true;
  await forgetNotifications();
  try {
    await post("/logout");
  } catch (error) {
    // The session may be gone already; the page signs out either way.
    console.warn("logout failed", error);
  } finally {
    ui.signout.disabled = false;
  }
  await stopChat();
  showSignIn();
});

async function stopChat() {
  const client = state.client;
  resetState();
  if (client) await client.shutdown();
  clearChat();
}

// -- the chat ---------------------------------------------------------------------------------
/** @param {{token: string}} info the token server's answer */
async function startChat(info) {
  const client = await ChatClient.create(info.token, { tokenProvider: provideToken });
  const fresh = resetState();
  fresh.client = client;
  fresh.identity = client.identity;
  listen(client);
  ui.me.replaceChildren(isolated(client.identity || ""));
  showConnection(client.state);
  for (const channel of await client.getSubscribedChannels()) track(channel);
  await refreshPublic();
  ui.loading.hidden = true;
  ui.signin.hidden = true;
  ui.chat.hidden = false;
  renderChannels();
  renderInvites();
  offerNotifications().catch((error) => console.warn("notifications unavailable", error));
  const first = sortedChannels()[0];
  if (first) {
    await selectChannel(first.channel.sid);
    ui.message.focus();
  } else {
    renderConversation();
    ui.newChannel.focus();
  }
}

/** @param {ChatClient} client */
function listen(client) {
  // Each handler ignores events of a client that was shut down (signed out) meanwhile.
  /**
   * @template {any[]} A
   * @param {(...args: A) => unknown} handler
   */
  const mine = (handler) => /** @param {A} args */ (...args) =>
    state.client === client ? handler(...args) : undefined;
  client.on("connection_state_changed", mine(onConnectionState));
  client.on("message_added", mine(onMessageAdded));
  client.on("message_updated", mine(onMessageChanged));
  client.on("message_removed", mine(onMessageRemoved));
  client.on("typing_started", mine((/** @type {Typing} */ t) => setTyping(t.channelSid, t.identity, true)));
  client.on("typing_ended", mine((/** @type {Typing} */ t) => setTyping(t.channelSid, t.identity, false)));
  client.on("member_joined", mine((/** @type {Member} */ m) => setMember(m.channelSid, m.identity, true)));
  client.on("member_left", mine((/** @type {Member} */ m) => setMember(m.channelSid, m.identity, false)));
  client.on("member_updated", mine(onMemberUpdated));
  client.on("user_updated", mine(onUserUpdated));
  client.on("channel_joined", mine(onChannelJoined));
  client.on("channel_invited", mine(onChannelInvited));
  client.on("channel_left", mine(onChannelGone));
  client.on("channel_removed", mine(onChannelGone));
  client.on("channel_added", mine(() => refreshPublic()));
  client.on("channel_updated", mine(() => renderChannels()));
}

/** @param {string} connectionState */
async function onConnectionState(connectionState) {
  showConnection(connectionState);
  if (connectionState === ConnectionState.CONNECTED) {
    // Back after a reconnect: who came and went, and who is online, may have changed.
    const entry = currentEntry();
    if (entry) loadMembers(entry);
    refreshSubscriptions();
  }
  if (connectionState === ConnectionState.DENIED) {
    // The sign-in session ended (signed out elsewhere, or expired): back to the form.
    await stopChat();
    showSignIn("Your session ended; please sign in again.");
  }
}

// -- start ------------------------------------------------------------------------------------
async function boot() {
  try {
    const info = await fetchToken();
    if (info === null) showSignIn();
    else await startChat(info);
  } catch (error) {
    showSignIn(describe(error));
  }
}

boot();
