// @ts-check
// The open channel's members and who of them is online, and inviting someone.

import { phrase, ui } from "./dom.js";
import { currentEntry, state, viewing } from "./state.js";
import { renderChannels, renderMembers, showError } from "./render.js";

/** @typedef {import("../hubbub-client.js").Member} Member */
/** @typedef {import("../hubbub-client.js").User} User */
/** @typedef {import("./state.js").Entry} Entry */

/** Members per get_members page (the server's maximum), and how many the list shows at most. */
const MEMBERS_PAGE = 100;
const MEMBERS_MAX = 1000;

/**
 * The channel's members and their users, all pages; the newest load of a channel wins.
 * @param {Entry} entry
 */
export async function loadMembers(entry) {
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

/**
 * Someone joined or left a channel.
 * @param {string} sid
 * @param {string} identity
 * @param {boolean} member whether they are a member now
 */
export function setMember(sid, identity, member) {
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

/** @param {User} user */
export function onUserUpdated(user) {
  if (user.isOnline === null) return;
  state.presence.set(user.identity, user.isOnline);
  renderMembers();
}

/**
 * Our own read horizon moved elsewhere (another tab): take the server's count. Not awaited,
 * so that the events after this one are not held up by the command.
 * @param {Member} member
 */
export function onMemberUpdated(member) {
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

ui.inviteForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const entry = currentEntry();
  const identity = ui.inviteIdentity.value.trim();
  if (!entry || !identity) return;
  try {
    await entry.channel.invite(identity);
    ui.inviteIdentity.value = "";
    ui.inviteResult.replaceChildren(...phrase`Invited ${identity} to ${entry.channel.name}.`);
    showError(null);
  } catch (error) {
    ui.inviteResult.textContent = "";
    showError(error);
  }
});
