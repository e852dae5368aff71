// The chat page: sign in, channels with unread counts, history with infinite scroll, composer,
// typing indicator, presence, sign out. It talks to the server through two doors only: the
// token server's /login, /logout and /token (JSON, same-origin cookies), and the real-time
// protocol through hubbub-client.js.

import { ChatClient, ChatError, ConnectionState } from "./hubbub-client.js";

/** Messages per history page (the server allows up to 100). */
const PAGE_SIZE = 30;
/** Start loading older messages when the history is scrolled this close to its top (px). */
const NEAR_TOP = 48;
/** Send `typing` at most this often while the user keeps typing (ms). */
const TYPING_EVERY = 2000;
/** Members per get_members page (the server's maximum), and how many the list shows at most. */
const MEMBERS_PAGE = 100;
const MEMBERS_MAX = 1000;

const $ = (id) => document.getElementById(id);

const ui = {
  loading: $("loading"),
  signin: $("signin"),
  signinForm: $("signin-form"),
  signinError: $("signin-error"),
  username: $("username"),
  password: $("password"),
  chat: $("chat"),
  connection: $("connection"),
  chatError: $("chat-error"),
  me: $("me"),
  signout: $("signout"),
  channelList: $("channel-list"),
  notice: $("notice"),
  invites: $("invites"),
  inviteList: $("invite-list"),
  createForm: $("create-form"),
  newChannel: $("new-channel"),
  publicList: $("public-list"),
  publicEmpty: $("public-empty"),
  title: $("channel-title"),
  history: $("history"),
  older: $("older"),
  historyStart: $("history-start"),
  messages: $("messages"),
  typing: $("typing"),
  composer: $("composer"),
  message: $("message"),
  send: $("send"),
  memberList: $("member-list"),
  inviteForm: $("invite-form"),
  inviteIdentity: $("invite-identity"),
  inviteSend: $("invite-send"),
  inviteResult: $("invite-result"),
};

/** Everything the page knows; reset on sign out. */
let state = freshState();

function freshState() {
  return {
    client: null,
    identity: null,
    /** sid -> {channel, unread, messages: Map<index, Message>, loaded, complete, loading} */
    channels: new Map(),
    publicChannels: [],
    current: null,
    /** sid -> Set of identities typing there */
    typing: new Map(),
    /** identity -> true (online) / false (offline), from get_members and user_updated */
    presence: new Map(),
    /** Whether the Chat Service tracks reachability (get_members says); null: not known yet */
    reachability: null,
    /** sid -> Set of the identities of the channel's members (from get_members, then pushes) */
    members: new Map(),
    /** sid -> number of the latest get_members load started (the newest one wins) */
    memberLoads: new Map(),
    lastTyping: 0,
  };
}

// -- the token server -------------------------------------------------------------------------
class HttpError extends Error {
  constructor(response, body) {
    super(body?.message || `HTTP ${response.status}`);
    this.status = response.status;
    this.code = body?.code ?? null;
    this.retryAfter = Number(response.headers.get("Retry-After")) || null;
  }
}

async function post(path, body) {
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

/** A fresh token for the signed-in person, or null if nobody is signed in (401). */
async function fetchToken() {
  try {
    return await post("/token");
  } catch (error) {
    if (error instanceof HttpError && error.status === 401) return null;
    throw error;
  }
}

/** The chat client's token provider: a sign-in session that ended is final. */
async function provideToken() {
  const info = await fetchToken();
  if (info === null) throw Object.assign(new Error("the sign-in session ended"), { fatal: true });
  return info.token;
}

function describe(error) {
  if (error instanceof HttpError) {
    if (error.status === 429) {
      const wait = error.retryAfter ? ` in ${error.retryAfter} s` : " later";
      return `Too many attempts; try again${wait}.`;
    }
    if (error.status === 503) return "The sign-in service is unavailable; try again soon.";
    return error.message;
  }
  if (error instanceof ChatError) return `${error.message} (${error.code})`;
  return error?.message || String(error);
}

// -- sign in and out --------------------------------------------------------------------------
function showSignIn(message = "") {
  ui.loading.hidden = true;
  ui.chat.hidden = true;
  ui.signin.hidden = false;
  ui.signinError.textContent = message;
  ui.signinError.hidden = !message;
  ui.password.value = "";
  document.title = "Sign in · hubbub chat";
  (ui.username.value ? ui.password : ui.username).focus();
}

ui.signinForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const username = ui.username.value.trim();
  const password = ui.password.value;
  if (!username || !password) {
    showSignIn("Enter your username and password.");
    return;
  }
  const button = ui.signinForm.querySelector("button");
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
  state = freshState();
  if (client) await client.shutdown();
  ui.channelList.replaceChildren();
  ui.inviteList.replaceChildren();
  ui.invites.hidden = true;
  ui.notice.textContent = "";
  ui.publicList.replaceChildren();
  ui.messages.replaceChildren();
  ui.memberList.replaceChildren();
  ui.inviteResult.textContent = "";
  ui.typing.textContent = "";
}

// -- the chat ---------------------------------------------------------------------------------
async function startChat(info) {
  const client = await ChatClient.create(info.token, { tokenProvider: provideToken });
  state = freshState();
  state.client = client;
  state.identity = client.identity;
  listen(client);
  ui.me.textContent = client.identity;
  showConnection(client.state);
  for (const channel of await client.getSubscribedChannels()) track(channel);
  await refreshPublic();
  ui.loading.hidden = true;
  ui.signin.hidden = true;
  ui.chat.hidden = false;
  renderChannels();
  renderInvites();
  const first = sortedChannels()[0];
  if (first) {
    await selectChannel(first.channel.sid);
    ui.message.focus();
  } else {
    renderConversation();
    ui.newChannel.focus();
  }
}

function listen(client) {
  // Each handler ignores events of a client that was shut down (signed out) meanwhile.
  const mine = (handler) => (...args) => (state.client === client ? handler(...args) : undefined);
  client.on("connection_state_changed", mine(onConnectionState));
  client.on("message_added", mine(onMessageAdded));
  client.on("message_updated", mine(onMessageChanged));
  client.on("message_removed", mine(onMessageRemoved));
  client.on("typing_started", mine((t) => setTyping(t.channelSid, t.identity, true)));
  client.on("typing_ended", mine((t) => setTyping(t.channelSid, t.identity, false)));
  client.on("member_joined", mine((m) => setMember(m.channelSid, m.identity, true)));
  client.on("member_left", mine((m) => setMember(m.channelSid, m.identity, false)));
  client.on("member_updated", mine(onMemberUpdated));
  client.on("user_updated", mine(onUserUpdated));
  client.on("channel_joined", mine(onChannelJoined));
  client.on("channel_invited", mine(onChannelInvited));
  client.on("channel_left", mine(onChannelGone));
  client.on("channel_removed", mine(onChannelGone));
  client.on("channel_added", mine(() => refreshPublic()));
  client.on("channel_updated", mine(() => renderChannels()));
}

function showConnection(connectionState) {
  const text = {
    [ConnectionState.CONNECTING]: "Connecting…",
    [ConnectionState.CONNECTED]: `Connected as ${state.identity}`,
    [ConnectionState.DISCONNECTED]: "Disconnected",
    [ConnectionState.DENIED]: "Signed out",
  }[connectionState];
  ui.connection.textContent = text || connectionState;
  ui.connection.dataset.state = connectionState;
}

async function onConnectionState(connectionState) {
  showConnection(connectionState);
  if (connectionState === ConnectionState.CONNECTED) {
    // Back after a reconnect: who came and went, and who is online, may have changed.
    const entry = state.channels.get(state.current);
    if (entry) loadMembers(entry);
    refreshSubscriptions();
  }
  if (connectionState === ConnectionState.DENIED) {
    // The sign-in session ended (signed out elsewhere, or expired): back to the form.
    await stopChat();
    showSignIn("Your session ended; please sign in again.");
  }
}

function showError(error) {
  ui.chatError.textContent = error ? describe(error) : "";
  ui.chatError.hidden = !error;
}

// -- channels ---------------------------------------------------------------------------------
function track(channel) {
  let entry = state.channels.get(channel.sid);
  if (!entry) {
    entry = {
      channel,
      // The server's count after the read horizon; with no horizon yet (never read), every
      // message of the channel is unread.
      unread: channel.unread ?? (channel.status === "joined" ? channel.messagesCount : 0),
      messages: new Map(),
      loaded: false,
      complete: false,
      loading: null,
    };
    state.channels.set(channel.sid, entry);
  }
  return entry;
}

/** Channels joined and invitations received while the connection was down. */
async function refreshSubscriptions() {
  const client = state.client;
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

/** Re-render `list` with `items`, keeping keyboard focus on the same control if it is still
 * there (matched by `data-key`), else on `fallback()`. */
function replaceKeepingFocus(list, items, fallback = null) {
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const key = focused?.dataset.key;
  list.replaceChildren(...items);
  if (!focused) return;
  const again = key ? list.querySelector(`[data-key="${CSS.escape(key)}"]`) : null;
  if (again) again.focus();
  else fallback?.()?.focus();
}

function sortedChannels() {
  return [...state.channels.values()]
    .filter((entry) => entry.channel.status === "joined")
    .sort((a, b) => a.channel.name.localeCompare(b.channel.name));
}

function renderChannels() {
  const items = sortedChannels().map((entry) => {
    const { channel } = entry;
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.sid = channel.sid;
    button.dataset.key = `open:${channel.sid}`;
    const name = document.createElement("span");
    name.textContent = channel.name;
    button.append(name);
    const unread = entry.unread || 0;
    if (unread > 0) {
      const badge = document.createElement("span");
      badge.className = "unread";
      badge.textContent = String(unread);
      button.append(badge);
    }
    button.setAttribute("aria-label", unread > 0 ? `${channel.name}, ${unread} unread` : channel.name);
    if (channel.sid === state.current) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => selectChannel(channel.sid));
    li.append(button);
    return li;
  });
  // Keep keyboard focus on the same channel across a re-render.
  replaceKeepingFocus(ui.channelList, items, () => ui.channelList.querySelector("button"));
  const total = sortedChannels().reduce((sum, entry) => sum + (entry.unread || 0), 0);
  document.title = total > 0 ? `(${total}) hubbub chat` : "hubbub chat";
}

async function refreshPublic() {
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

function renderPublic() {
  // Joined channels are under "Your channels", invitations under "Invitations".
  const joinable = state.publicChannels
    .filter((channel) => channel.status !== "joined" && channel.status !== "invited")
    .sort((a, b) => a.name.localeCompare(b.name));
  const items = joinable.map((channel) => {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = channel.name;
    li.append(name, actionButton("Join", channel, () => joinChannel(channel)));
    return li;
  });
  replaceKeepingFocus(ui.publicList, items, () => ui.publicList.querySelector("button") || ui.newChannel);
  ui.publicEmpty.hidden = joinable.length > 0;
}

/** A button such as "Join" named after its channel ("Join random") for screen readers. */
function actionButton(label, channel, action, className = "") {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  if (className) button.className = className;
  button.dataset.key = `${label}:${channel.sid}`;
  button.setAttribute("aria-label", `${label} ${channel.name}`);
  button.addEventListener("click", action);
  return button;
}

// -- invitations ------------------------------------------------------------------------------
function invitedChannels() {
  return [...state.channels.values()]
    .filter((entry) => entry.channel.status === "invited")
    .sort((a, b) => a.channel.name.localeCompare(b.channel.name));
}

function renderInvites() {
  const invited = invitedChannels();
  const items = invited.map(({ channel }) => {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = channel.name;
    li.append(
      name,
      actionButton("Join", channel, () => joinChannel(channel)),
      actionButton("Decline", channel, () => declineInvite(channel), "secondary"),
    );
    return li;
  });
  ui.invites.hidden = invited.length === 0;
  replaceKeepingFocus(ui.inviteList, items, () =>
    ui.inviteList.querySelector("button") || (ui.message.disabled ? ui.newChannel : ui.message),
  );
}

function onChannelInvited(channel) {
  if (channel.status !== "invited") return;
  track(channel);
  ui.notice.textContent = `You are invited to ${channel.name}.`;
  renderInvites();
  renderPublic();
}

async function declineInvite(channel) {
  try {
    await channel.decline();
    showError(null);
  } catch (error) {
    showError(error);
    return;
  }
  state.channels.delete(channel.sid);
  ui.notice.textContent = `Declined the invitation to ${channel.name}.`;
  renderInvites();
  renderPublic();
}

async function joinChannel(channel) {
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

function onChannelJoined(channel) {
  // Joined here or in another tab of the same person.
  const entry = track(channel);
  if (entry.unread === null) entry.unread = 0;
  renderChannels();
  renderInvites();
  renderPublic();
}

function onChannelGone(channel) {
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

async function selectChannel(sid) {
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

function renderConversation() {
  const entry = state.channels.get(state.current);
  ui.title.textContent = entry ? entry.channel.name : "No channel selected";
  ui.message.disabled = ui.send.disabled = !entry;
  ui.inviteIdentity.disabled = ui.inviteSend.disabled = !entry;
  ui.inviteResult.textContent = "";
  ui.messages.replaceChildren();
  ui.older.hidden = true;
  ui.historyStart.hidden = true;
  renderTyping();
  renderMembers();
}

// -- history ----------------------------------------------------------------------------------
async function loadLatest(entry) {
  const page = await loadPage(entry, null);
  entry.loaded = true;
  if (page && page.length < PAGE_SIZE && !page.truncated) entry.complete = true;
}

/** One page of history ending at `anchor` (the newest if null), merged into the entry. */
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

function remember(entry, message) {
  entry.messages.set(message.index, message);
}

function oldestIndex(entry) {
  let oldest = null;
  for (const index of entry.messages.keys()) if (oldest === null || index < oldest) oldest = index;
  return oldest;
}

function newestIndex(entry) {
  let newest = null;
  for (const index of entry.messages.keys()) if (newest === null || index > newest) newest = index;
  return newest;
}

/** Load the page before the oldest message shown, keeping what is on screen in place. */
async function loadOlder() {
  const entry = state.channels.get(state.current);
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

/** Until the log overflows (so that scrolling is possible), keep loading older pages. */
async function fillHistory(entry) {
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

function renderMessages(entry) {
  const indices = [...entry.messages.keys()].sort((a, b) => a - b);
  ui.messages.replaceChildren(...indices.map((index) => messageElement(entry.messages.get(index))));
  renderHistoryEdge(entry);
}

function renderHistoryEdge(entry) {
  ui.older.hidden = entry.complete;
  ui.historyStart.hidden = !entry.complete;
}

function messageElement(message) {
  const li = document.createElement("li");
  li.dataset.index = String(message.index);
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = message.author;
  li.append(author);
  if (message.dateCreated) {
    const time = document.createElement("time");
    time.dateTime = message.dateCreated.toISOString();
    time.textContent = message.dateCreated.toLocaleTimeString([], {
      hour: "2-digit",
      minute: "2-digit",
    });
    li.append(time);
  }
  const body = document.createElement("p");
  body.className = "body";
  body.textContent = message.body;
  li.append(body);
  return li;
}

/** Put a message's element where its index belongs (replacing one with the same index). */
function placeMessage(message) {
  const element = messageElement(message);
  const existing = ui.messages.querySelector(`li[data-index="${message.index}"]`);
  if (existing) {
    existing.replaceWith(element);
    return;
  }
  const after = [...ui.messages.children].find((li) => Number(li.dataset.index) > message.index);
  ui.messages.insertBefore(element, after || null);
}

function nearBottom() {
  const { scrollHeight, scrollTop, clientHeight } = ui.history;
  return scrollHeight - scrollTop - clientHeight < 80;
}

function scrollToBottom() {
  ui.history.scrollTop = ui.history.scrollHeight;
}

// -- live events ------------------------------------------------------------------------------
function viewing(sid) {
  return state.current === sid && !document.hidden;
}

async function onMessageAdded(message) {
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

function onMessageChanged(message) {
  const entry = state.channels.get(message.channelSid);
  if (!entry || !entry.messages.has(message.index)) return;
  entry.messages.set(message.index, message);
  if (state.current === message.channelSid) placeMessage(message);
}

function onMessageRemoved(message) {
  const entry = state.channels.get(message.channelSid);
  if (!entry) return;
  entry.messages.delete(message.index);
  if (state.current === message.channelSid) {
    ui.messages.querySelector(`li[data-index="${message.index}"]`)?.remove();
  }
}

/** Move the read horizon to the newest message shown; the server answers with the count. */
async function markRead(entry, index = newestIndex(entry)) {
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
  const entry = state.channels.get(state.current);
  if (!document.hidden && entry?.loaded) markRead(entry);
});

// -- typing -----------------------------------------------------------------------------------
function setTyping(sid, identity, typing) {
  if (identity === state.identity) return;
  if (!state.typing.has(sid)) state.typing.set(sid, new Set());
  const who = state.typing.get(sid);
  const changed = typing ? !who.has(identity) : who.has(identity);
  if (!changed) return;
  if (typing) who.add(identity);
  else who.delete(identity);
  if (sid === state.current) renderTyping();
}

function renderTyping() {
  const who = [...(state.typing.get(state.current) || [])].sort();
  let text = "";
  if (who.length === 1) text = `${who[0]} is typing…`;
  else if (who.length === 2) text = `${who[0]} and ${who[1]} are typing…`;
  else if (who.length > 2) text = `${who[0]}, ${who[1]} and ${who.length - 2} others are typing…`;
  if (ui.typing.textContent !== text) ui.typing.textContent = text;
}

ui.message.addEventListener("input", () => {
  const entry = state.channels.get(state.current);
  if (!entry || !ui.message.value.trim()) return;
  const now = Date.now();
  if (now - state.lastTyping < TYPING_EVERY) return;
  state.lastTyping = now;
  entry.channel.typing().catch((error) => console.warn("typing failed", error));
});

// -- composer ---------------------------------------------------------------------------------
ui.message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.isComposing) {
    event.preventDefault();
    ui.composer.requestSubmit();
  }
});

ui.composer.addEventListener("submit", async (event) => {
  event.preventDefault();
  const entry = state.channels.get(state.current);
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

// -- members and presence ---------------------------------------------------------------------
/** The channel's members and their users, all pages; the newest load of a channel wins. */
async function loadMembers(entry) {
  const client = state.client;
  const sid = entry.channel.sid;
  const load = (state.memberLoads.get(sid) || 0) + 1;
  state.memberLoads.set(sid, load);
  try {
    const found = new Set();
    const online = new Map();
    let page = await entry.channel.getMembers(MEMBERS_PAGE);
    const reachability = page.reachabilityEnabled;
    for (;;) {
      for (const { member, user } of page.items) {
        found.add(member.identity);
        online.set(user.identity || member.identity, user.isOnline === true);
      }
      if (!page.hasNextPage || found.size >= MEMBERS_MAX) break;
      page = await page.nextPage();
    }
    if (state.client !== client || state.memberLoads.get(sid) !== load) return;
    state.reachability = reachability;
    state.members.set(sid, found);
    if (reachability) for (const [identity, isOnline] of online) state.presence.set(identity, isOnline);
    if (sid === state.current) renderMembers();
  } catch (error) {
    if (state.client === client) showError(error);
  }
}

function setMember(sid, identity, member) {
  const members = state.members.get(sid);
  if (members) {
    if (member) members.add(identity);
    else members.delete(identity);
  }
  if (sid !== state.current) return;
  renderMembers();
  // A newcomer's presence is not in member_joined: ask the server (which also settles any
  // load that raced with this push).
  const entry = state.channels.get(sid);
  if (entry && member && identity !== state.identity) loadMembers(entry);
}

function onUserUpdated(user) {
  if (user.isOnline === null) return;
  state.presence.set(user.identity, user.isOnline);
  renderMembers();
}

/** Our own read horizon moved elsewhere (another tab): take the server's count. Not awaited,
 * so that the events after this one are not held up by the command. */
function onMemberUpdated(member) {
  if (member.identity !== state.identity || viewing(member.channelSid)) return;
  const entry = state.channels.get(member.channelSid);
  if (!entry || entry.channel.status !== "joined") return;
  entry.channel.getUnconsumedMessagesCount().then(
    (unread) => {
      if (unread === null || state.channels.get(member.channelSid) !== entry) return;
      if (viewing(member.channelSid)) return; // opened meanwhile: markRead has the say
      entry.unread = unread;
      renderChannels();
    },
    (error) => console.warn("could not refresh an unread count", error),
  );
}

function renderMembers() {
  const known = state.members.get(state.current);
  const members = [...(known || [])].sort((a, b) => a.localeCompare(b));
  const reachability = state.reachability === true;
  ui.memberList.replaceChildren(
    ...members.map((identity) => {
      const li = document.createElement("li");
      li.dataset.identity = identity;
      const name = document.createElement("span");
      name.textContent = identity === state.identity ? `${identity} (you)` : identity;
      if (!reachability) {
        // The service does not track who is online: say nothing rather than "offline".
        li.append(name);
        return li;
      }
      const online = state.presence.get(identity) === true;
      const dot = document.createElement("span");
      dot.className = online ? "dot online" : "dot";
      dot.setAttribute("aria-hidden", "true");
      const presence = document.createElement("span");
      presence.className = "presence";
      presence.textContent = online ? "online" : "offline";
      li.append(dot, name, presence);
      return li;
    }),
  );
}

ui.inviteForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const entry = state.channels.get(state.current);
  const identity = ui.inviteIdentity.value.trim();
  if (!entry || !identity) return;
  try {
    await entry.channel.invite(identity);
    ui.inviteIdentity.value = "";
    ui.inviteResult.textContent = `Invited ${identity} to ${entry.channel.name}.`;
    showError(null);
  } catch (error) {
    ui.inviteResult.textContent = "";
    showError(error);
  }
});

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
