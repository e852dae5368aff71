// @ts-check
// The page drawn from the state: sign-in form, connection line, channel lists, the open
// channel's history, who is typing, members. No commands are sent from here; what a button
// does comes from bindActions().

import { ConnectionState } from "../hubbub-client.js";
import { describe } from "./account.js";
import { isolated, phrase, ui } from "./dom.js";
import { currentEntry, invitedChannels, sortedChannels, state } from "./state.js";

/** @typedef {import("../hubbub-client.js").Channel} Channel */
/** @typedef {import("../hubbub-client.js").Message} Message */
/** @typedef {import("./state.js").Entry} Entry */

/**
 * What the channel buttons do. chat.js binds them at start, so that this module need not
 * import the modules that import it.
 * @typedef {object} Actions
 * @property {(sid: string) => unknown} select open a joined channel
 * @property {(channel: Channel) => unknown} join
 * @property {(channel: Channel) => unknown} decline turn an invitation down
 */

/** @type {Actions} */
const actions = {
  select: () => {},
  join: () => {},
  decline: () => {},
};

/** @param {Actions} given */
export function bindActions(given) {
  Object.assign(actions, given);
}

// -- sign in and the connection ---------------------------------------------------------------
export function showSignIn(message = "") {
  ui.loading.hidden = true;
  ui.chat.hidden = true;
  ui.signin.hidden = false;
  ui.signinError.textContent = message;
  ui.signinError.hidden = !message;
  ui.password.value = "";
  document.title = "Sign in · hubbub chat";
  (ui.username.value ? ui.password : ui.username).focus();
}

/** Empty everything a signed-in person saw. */
export function clearChat() {
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

/** @param {string} connectionState */
export function showConnection(connectionState) {
  /** @type {Record<string, string>} */
  const texts = {
    [ConnectionState.CONNECTING]: "Connecting…",
    [ConnectionState.DISCONNECTED]: "Disconnected",
    [ConnectionState.DENIED]: "Signed out",
  };
  if (connectionState === ConnectionState.CONNECTED) {
    ui.connection.replaceChildren(...phrase`Connected as ${state.identity || ""}`);
  } else {
    ui.connection.textContent = texts[connectionState] || connectionState;
  }
  ui.connection.dataset.state = connectionState;
}

/** @param {unknown} error what went wrong, or null to clear the message */
export function showError(error) {
  ui.chatError.textContent = error ? describe(error) : "";
  ui.chatError.hidden = !error;
}

// -- channel lists ----------------------------------------------------------------------------
/**
 * Re-render `list` with `items`, keeping keyboard focus on the same control if it is still
 * there (matched by `data-key`), else on `fallback()`.
 * @param {HTMLElement} list
 * @param {HTMLElement[]} items
 * @param {(() => HTMLElement | null) | null} [fallback]
 */
function replaceKeepingFocus(list, items, fallback = null) {
  const active = document.activeElement;
  const focused = active instanceof HTMLElement && list.contains(active) ? active : null;
  const key = focused?.dataset.key;
  list.replaceChildren(...items);
  if (!focused) return;
  const again = key ? list.querySelector(`[data-key="${CSS.escape(key)}"]`) : null;
  if (again instanceof HTMLElement) again.focus();
  else fallback?.()?.focus();
}

/** The joined channels, with unread badges; the title counts all unread. */
export function renderChannels() {
  const items = sortedChannels().map((entry) => {
    const { channel } = entry;
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.sid = channel.sid;
    button.dataset.key = `open:${channel.sid}`;
    button.append(isolated(channel.name));
    const unread = entry.unread || 0;
    if (unread > 0) {
      const badge = document.createElement("span");
      badge.className = "unread";
      badge.textContent = String(unread);
      button.append(badge);
    }
    button.setAttribute("aria-label", unread > 0 ? `${channel.name}, ${unread} unread` : channel.name);
    if (channel.sid === state.current) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => actions.select(channel.sid));
    li.append(button);
    return li;
  });
  // Keep keyboard focus on the same channel across a re-render.
  replaceKeepingFocus(ui.channelList, items, () => ui.channelList.querySelector("button"));
  const total = sortedChannels().reduce((sum, entry) => sum + (entry.unread || 0), 0);
  document.title = total > 0 ? `(${total}) hubbub chat` : "hubbub chat";
}

/** Public channels this user may join. */
export function renderPublic() {
  // Joined channels are under "Your channels", invitations under "Invitations".
  const joinable = state.publicChannels
    .filter((channel) => channel.status !== "joined" && channel.status !== "invited")
    .sort((a, b) => a.name.localeCompare(b.name));
  const items = joinable.map((channel) => {
    const li = document.createElement("li");
    li.append(isolated(channel.name), actionButton("Join", channel, () => actions.join(channel)));
    return li;
  });
  replaceKeepingFocus(ui.publicList, items, () => ui.publicList.querySelector("button") || ui.newChannel);
  ui.publicEmpty.hidden = joinable.length > 0;
}

/**
 * A button such as "Join" named after its channel ("Join random") for screen readers.
 * @param {string} label
 * @param {Channel} channel
 * @param {() => unknown} action
 * @param {string} [className]
 */
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

/** Invitations, each with Join and Decline. */
export function renderInvites() {
  const invited = invitedChannels();
  const items = invited.map(({ channel }) => {
    const li = document.createElement("li");
    const name = isolated(channel.name);
    name.className = "name";
    li.append(
      name,
      actionButton("Join", channel, () => actions.join(channel)),
      actionButton("Decline", channel, () => actions.decline(channel), "secondary"),
    );
    return li;
  });
  ui.invites.hidden = invited.length === 0;
  replaceKeepingFocus(ui.inviteList, items, () =>
    ui.inviteList.querySelector("button") || (ui.message.disabled ? ui.newChannel : ui.message),
  );
}

// -- the open channel -------------------------------------------------------------------------
/** The frame of the open channel (or of none), its history not loaded yet. */
export function renderConversation() {
  const entry = currentEntry();
  ui.title.replaceChildren(entry ? isolated(entry.channel.name) : "No channel selected");
  ui.message.disabled = ui.send.disabled = ui.attachFile.disabled = !entry;
  ui.attach.setAttribute("aria-disabled", String(!entry));
  ui.inviteIdentity.disabled = ui.inviteSend.disabled = !entry;
  ui.inviteResult.textContent = "";
  ui.messages.replaceChildren();
  ui.older.hidden = true;
  ui.historyStart.hidden = true;
  renderTyping();
  renderMembers();
}

/** @param {Entry} entry */
export function renderMessages(entry) {
  const indices = [...entry.messages.keys()].sort((a, b) => a - b);
  ui.messages.replaceChildren(
    ...indices.map((index) => messageElement(/** @type {Message} */ (entry.messages.get(index)))),
  );
  renderHistoryEdge(entry);
}

/**
 * "Load older messages", or "This is the beginning of the channel".
 * @param {Entry} entry
 */
export function renderHistoryEdge(entry) {
  ui.older.hidden = entry.complete;
  ui.historyStart.hidden = !entry.complete;
}

/** @param {Message} message */
function messageElement(message) {
  const li = document.createElement("li");
  li.dataset.index = String(message.index);
  const author = isolated(message.author);
  author.className = "author";
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
  if (message.media) {
    li.append(mediaElement(message.media));
    // A media message's body is the sender's words, or the service's compatibility message
    // for clients that cannot show files: this page can, so an empty one says nothing.
    if (!message.body) return li;
  }
  const body = document.createElement("p");
  body.className = "body";
  body.textContent = message.body;
  li.append(body);
  return li;
}

/**
 * An image shown inline, anything else a link with its name and size. The bytes come from a
 * short-lived URL that needs no token: asked for when shown, and again when a link is used.
 * @param {import("../hubbub-client.js").Media} media
 */
function mediaElement(media) {
  const name = media.filename || "file";
  const client = state.client;
  const url = () => (client ? client.getMediaContentUrl(media.sid) : Promise.reject(new Error("signed out")));
  if (media.contentType.startsWith("image/")) {
    const figure = document.createElement("figure");
    figure.className = "media";
    const img = document.createElement("img");
    img.alt = name;
    img.dataset.mediaSid = media.sid;
    url().then(
      (href) => {
        img.src = href;
      },
      () => {
        img.alt = `${name} (could not be loaded)`;
      },
    );
    figure.append(img);
    return figure;
  }
  const link = document.createElement("a");
  link.className = "media";
  link.href = "#";
  link.download = name;
  link.dataset.mediaSid = media.sid;
  link.append(isolated(name), ` (${formatSize(media.size)})`);
  link.addEventListener("click", async (event) => {
    event.preventDefault();
    const save = document.createElement("a");
    save.href = await url();
    save.download = name;
    save.click();
  });
  return link;
}

/**
 * A size for people: 812 bytes, 4.2 KB, 3.1 MB.
 * @param {number} bytes
 */
export function formatSize(bytes) {
  if (bytes < 1000) return `${bytes} bytes`;
  if (bytes < 1000 * 1000) return `${(bytes / 1000).toFixed(1)} KB`;
  return `${(bytes / (1000 * 1000)).toFixed(1)} MB`;
}

/**
 * Put a message's element where its index belongs (replacing one with the same index).
 * @param {Message} message
 */
export function placeMessage(message) {
  const element = messageElement(message);
  const existing = ui.messages.querySelector(`li[data-index="${message.index}"]`);
  if (existing) {
    existing.replaceWith(element);
    return;
  }
  const after = [...ui.messages.children].find(
    (li) => li instanceof HTMLElement && Number(li.dataset.index) > message.index,
  );
  ui.messages.insertBefore(element, after || null);
}

/** @param {number} index */
export function removeMessage(index) {
  ui.messages.querySelector(`li[data-index="${index}"]`)?.remove();
}

export function nearBottom() {
  const { scrollHeight, scrollTop, clientHeight } = ui.history;
  return scrollHeight - scrollTop - clientHeight < 80;
}

export function scrollToBottom() {
  ui.history.scrollTop = ui.history.scrollHeight;
}

/** "alice is typing…" for the open channel. */
export function renderTyping() {
  const who = [...((state.current !== null && state.typing.get(state.current)) || [])].sort();
  /** @type {(string | HTMLElement)[]} */
  let nodes = [];
  if (who.length === 1) nodes = phrase`${who[0]} is typing…`;
  else if (who.length === 2) nodes = phrase`${who[0]} and ${who[1]} are typing…`;
  else if (who.length > 2) {
    nodes = [...phrase`${who[0]}, ${who[1]}`, ` and ${who.length - 2} others are typing…`];
  }
  const text = nodes.map((node) => (typeof node === "string" ? node : node.textContent)).join("");
  if (ui.typing.textContent !== text) ui.typing.replaceChildren(...nodes);
}

/** The open channel's members, with presence when the service tracks it. */
export function renderMembers() {
  const known = state.current === null ? undefined : state.members.get(state.current);
  const members = [...(known || [])].sort((a, b) => a.localeCompare(b));
  const reachability = state.reachability === true;
  ui.memberList.replaceChildren(
    ...members.map((identity) => {
      const li = document.createElement("li");
      li.dataset.identity = identity;
      const name = document.createElement("span");
      const you = identity === state.identity;
      name.append(...(you ? phrase`${identity} (you)` : [isolated(identity)]));
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
