// @ts-check
// The page's elements (index.html), looked up once, each as the kind of element it is.

/**
 * The element with this id; index.html and this file must agree, so a mismatch is an error.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new (...args: any[]) => T} kind
 * @returns {T}
 */
function element(id, kind) {
  const found = document.getElementById(id);
  if (!(found instanceof kind)) throw new Error(`the page has no ${kind.name} #${id}`);
  return found;
}

export const ui = {
  loading: element("loading", HTMLElement),
  signin: element("signin", HTMLElement),
  signinForm: element("signin-form", HTMLFormElement),
  signinError: element("signin-error", HTMLElement),
  username: element("username", HTMLInputElement),
  password: element("password", HTMLInputElement),
  chat: element("chat", HTMLElement),
  connection: element("connection", HTMLElement),
  chatError: element("chat-error", HTMLElement),
  me: element("me", HTMLElement),
  notify: element("notify", HTMLButtonElement),
  notifyStatus: element("notify-status", HTMLElement),
  signout: element("signout", HTMLButtonElement),
  channelList: element("channel-list", HTMLUListElement),
  notice: element("notice", HTMLElement),
  invites: element("invites", HTMLElement),
  inviteList: element("invite-list", HTMLUListElement),
  createForm: element("create-form", HTMLFormElement),
  newChannel: element("new-channel", HTMLInputElement),
  publicList: element("public-list", HTMLUListElement),
  publicEmpty: element("public-empty", HTMLElement),
  title: element("channel-title", HTMLElement),
  history: element("history", HTMLElement),
  older: element("older", HTMLButtonElement),
  historyStart: element("history-start", HTMLElement),
  messages: element("messages", HTMLOListElement),
  typing: element("typing", HTMLElement),
  composer: element("composer", HTMLFormElement),
  message: element("message", HTMLTextAreaElement),
  send: element("send", HTMLButtonElement),
  attach: element("attach", HTMLLabelElement),
  attachFile: element("attach-file", HTMLInputElement),
  memberList: element("member-list", HTMLUListElement),
  inviteForm: element("invite-form", HTMLFormElement),
  inviteIdentity: element("invite-identity", HTMLInputElement),
  inviteSend: element("invite-send", HTMLButtonElement),
  inviteResult: element("invite-result", HTMLElement),
};

/**
 * A name someone chose (an identity, a channel's name) in a <bdi>: isolated from the text
 * around it, so that direction controls in it (U+202E…) cannot reorder what follows.
 * @param {string} text
 * @returns {HTMLElement}
 */
export function isolated(text) {
  const bdi = document.createElement("bdi");
  bdi.textContent = text;
  return bdi;
}

/**
 * A tagged template whose interpolated names are isolated: the nodes of
 * phrase`Invited ${identity} to ${channel}.`, for replaceChildren().
 * @param {TemplateStringsArray} strings
 * @param {...string} names
 * @returns {(string | HTMLElement)[]}
 */
export function phrase(strings, ...names) {
  /** @type {(string | HTMLElement)[]} */
  const nodes = [];
  strings.forEach((text, i) => {
    if (text) nodes.push(text);
    if (i < names.length) nodes.push(isolated(names[i]));
  });
  return nodes;
}
