// Drives one of Twilio's JavaScript chat SDKs for pytest, one step at a time.
//
//   node driver.js <chat5|chat6|conv2|conv3> <node_modules>
//
// Line-delimited JSON both ways. pytest writes requests on stdin:
//   {"id": 1, "op": "create", "client": "alice", "token": "...", "uri": "ws://.../v3/wsconnect"}
// and the driver answers each on stdout, in whatever order they finish:
//   {"id": 1, "ok": true, "result": ...}
//   {"id": 1, "ok": false, "error": {"message", "kind", "code", "status", "body"}}
// Between answers it writes what the SDK fires, unasked:
//   {"event": "messageAdded", "client": "alice", "data": {"sdkEvent": "messageAdded", ...}}
// Its first line is {"event": "ready", "client": null, ...} once the SDK has loaded. Closing
// stdin shuts every client down and ends the process.
//
// Names are Programmable Chat's for every SDK (channel, member, lastConsumedMessageIndex), so
// a test is written once; data.sdkEvent keeps the name the SDK itself used. Nothing of the
// SDK's own objects crosses the pipe: each is reduced to plain fields first.
//
// Ops (every one but ping names its "client"; channel ops take "sid" or "uniqueName"; any op
// takes "timeoutMs"):
//   ping; create {token, uri, timeoutMs = 15000, logLevel, options}; updateToken {token};
//   shutdown; subscribedChannels; subscribedChannelPages {pageSize (twilio-chat)};
//   publicChannels (twilio-chat); getChannel; createChannel {friendlyName, uniqueName,
//   attributes, isPrivate}; join; leave; add {identity, attributes}; invite {identity}
//   (twilio-chat); removeMember {identity}; decline (twilio-chat); updateChannel {friendlyName,
//   attributes, newUniqueName}; deleteChannel; getMessages {pageSize, anchor, direction};
//   nextPage / prevPage {page}; sendMessage {body, attributes}; sendMedia {contentType,
//   base64, filename, attributes, how, body}; mediaContent {index}; updateMessageBody {index,
//   body}; updateMessageAttributes {index, attributes}; removeMessage {index}; typing;
//   setAllRead; advanceRead {index}; updateRead {index}; setNoneRead; unreadCount; counts;
//   members; getUser {identity}; updateUser {friendlyName, attributes}; listen;
//   setPushRegistrationId {channelType, registrationId}; unsetPushRegistrationId
//   {channelType}; removePushRegistrations {channelType, registrationId} (Conversations).
// A result is what the SDK's object held when its promise resolved: what the server then
// pushes (the new attributes after updateChannel, say) arrives later, as events.
//
// Events: the client's from its construction on (connectionStateChanged, connectionError,
// stateChanged, tokenAboutToExpire, tokenExpired, userUpdated, channelAdded, channelRemoved,
// channelJoined, channelLeft, channelInvited), a channel's once "listen" names it
// (messageAdded, messageUpdated, messageRemoved, typingStarted, typingEnded, memberJoined,
// memberLeft, memberUpdated, updated, removed), and the driver's own (ready,
// unhandledRejection, uncaughtException).
"use strict";

const path = require("path");
const readline = require("readline");

const [sdkName, nodeModules] = process.argv.slice(2);
const SDK_NAMES = ["chat5", "chat6", "conv2", "conv3"];
if (!SDK_NAMES.includes(sdkName) || !nodeModules) {
  process.stderr.write(`usage: node driver.js <${SDK_NAMES.join("|")}> <node_modules>\n`);
  process.exit(2);
}
const isChat = sdkName.startsWith("chat");

// stdout carries the protocol alone: whatever the SDKs (or their loggers) print goes to stderr.
for (const name of ["log", "info", "debug"]) {
  console[name] = (...args) => console.error(...args);
}

function send(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

function emit(client, event, data) {
  send({ event, client, data: plain(data) });
}

// A JSON-safe copy: dates as ISO strings, undefined as null (so that every field a test looks
// for is there), no functions, no cycles.
function plain(value, seen = new Set()) {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "function" || typeof value === "symbol") return null;
  if (typeof value !== "object") return value;
  if (seen.has(value)) return null;
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => plain(item, seen));
    const out = {};
    for (const [key, item] of Object.entries(value)) {
      if (typeof item !== "function") out[key] = plain(item, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

// Reads a getter that may throw (some do before the client has initialised).
function read(getter) {
  try {
    const value = getter();
    return value === undefined ? null : value;
  } catch {
    return null;
  }
}

// --- Errors -----------------------------------------------------------------------------------

class DriverError extends Error {
  // kind: "usage" (a bad request), "unsupported" (not in this SDK), "timeout", "init"
  // (the client did not initialise), "not_found"; errors the SDK throws are "sdk".
  constructor(kind, message, extra = {}) {
    super(message);
    this.name = "DriverError";
    this.kind = kind;
    Object.assign(this, extra);
  }
}

function errorInfo(err) {
  if (err === null || typeof err !== "object") {
    return { message: String(err), kind: "sdk", code: null, status: null, body: null };
  }
  // twilsock's upstream errors carry the HTTP status and the response body (a Twilio error
  // object with its own code); its connection errors carry httpStatusCode and errorCode.
  const body = err.body ?? err.reply ?? null;
  return {
    message: String(err.message ?? err.description ?? err),
    kind: err.kind ?? "sdk",
    name: err.name ?? null,
    code: err.code ?? err.errorCode ?? (body && typeof body === "object" ? body.code : null) ?? null,
    status: err.status ?? err.httpStatusCode ?? (body && typeof body === "object" ? body.status : null) ?? null,
    body: plain(body),
  };
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new DriverError("timeout", `${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function need(args, key) {
  const value = args[key];
  if (value === undefined || value === null) throw new DriverError("usage", `"${key}" is required`);
  return value;
}

// JSON has null where the SDKs' argument checks want undefined.
function optional(value) {
  return value === null ? undefined : value;
}

function unsupported(op) {
  throw new DriverError("unsupported", `${op} is not in ${sdkName}`);
}

// --- The SDK, and where its versions differ ---------------------------------------------------

const sdkDir = path.join(path.resolve(nodeModules), sdkName);
const Client = require(sdkDir).Client;
// Not every release has a static Client.version (twilio-chat 6.x has it on instances only).
const sdkVersion = require(path.join(sdkDir, "package.json")).version;

const sdkApi = isChat
  ? {
      getBySid: (client, sid) => client.getChannelBySid(sid),
      getByUniqueName: (client, name) => client.getChannelByUniqueName(name),
      subscribed: (client) => client.getSubscribedChannels(),
      create: (client, options) => client.createChannel(options),
      members: (channel) => channel.getMembers(),
      add: (channel, identity) => channel.add(identity),
      removeMember: (channel, identity) => channel.removeMember(identity),
      setAllRead: (channel) => channel.setAllMessagesConsumed(),
      advanceRead: (channel, index) => channel.advanceLastConsumedMessageIndex(index),
      updateRead: (channel, index) => channel.updateLastConsumedMessageIndex(index),
      setNoneRead: (channel) => channel.setNoMessagesConsumed(),
      unreadCount: (channel) => channel.getUnconsumedMessagesCount(),
      membersCount: (channel) => channel.getMembersCount(),
    }
  : {
      getBySid: (client, sid) => client.getConversationBySid(sid),
      getByUniqueName: (client, name) => client.getConversationByUniqueName(name),
      subscribed: (client) => client.getSubscribedConversations(),
      create: (client, options) => client.createConversation(options),
      members: (conversation) => conversation.getParticipants(),
      add: (conversation, identity, attributes) => conversation.add(identity, attributes),
      removeMember: (conversation, identity) => conversation.removeParticipant(identity),
      setAllRead: (conversation) => conversation.setAllMessagesRead(),
      advanceRead: (conversation, index) => conversation.advanceLastReadMessageIndex(index),
      updateRead: (conversation, index) => conversation.updateLastReadMessageIndex(index),
      setNoneRead: (conversation) => conversation.setAllMessagesUnread(),
      unreadCount: (conversation) => conversation.getUnreadMessagesCount(),
      membersCount: (conversation) => conversation.getParticipantsCount(),
    };

// --- SDK objects reduced to plain fields ------------------------------------------------------

function channelInfo(channel) {
  if (!channel) return null;
  const lastMessage = read(() => channel.lastMessage);
  return {
    sid: channel.sid,
    uniqueName: read(() => channel.uniqueName),
    friendlyName: read(() => channel.friendlyName),
    status: read(() => channel.status),
    attributes: read(() => channel.attributes),
    lastConsumedMessageIndex: read(() =>
      isChat ? channel.lastConsumedMessageIndex : channel.lastReadMessageIndex
    ),
    createdBy: read(() => channel.createdBy),
    dateCreated: read(() => channel.dateCreated),
    dateUpdated: read(() => channel.dateUpdated),
    lastMessage: lastMessage
      ? { index: lastMessage.index ?? null, dateCreated: lastMessage.dateCreated ?? null }
      : null,
    notificationLevel: read(() => channel.notificationLevel),
    // Conversations have no channel types: every conversation is private.
    isPrivate: isChat ? read(() => channel.isPrivate) : null,
    type: isChat ? read(() => channel.type) : null,
    state: read(() => channel.state),
  };
}

function descriptorInfo(descriptor) {
  return {
    sid: descriptor.sid,
    uniqueName: descriptor.uniqueName ?? null,
    friendlyName: descriptor.friendlyName ?? null,
    attributes: descriptor.attributes ?? null,
    status: descriptor.status ?? null,
    type: descriptor.type ?? null,
    isPrivate: descriptor.isPrivate ?? null,
    createdBy: descriptor.createdBy ?? null,
    dateCreated: descriptor.dateCreated ?? null,
    dateUpdated: descriptor.dateUpdated ?? null,
    membersCount: descriptor.membersCount ?? null,
    messagesCount: descriptor.messagesCount ?? null,
    lastConsumedMessageIndex: descriptor.lastConsumedMessageIndex ?? null,
  };
}

function messageInfo(message) {
  if (!message) return null;
  const media = read(() => message.media);
  const channel = isChat ? message.channel : message.conversation;
  return {
    sid: message.sid,
    index: read(() => message.index),
    body: read(() => message.body),
    author: read(() => message.author),
    attributes: read(() => message.attributes),
    type: read(() => message.type),
    dateCreated: read(() => message.dateCreated),
    dateUpdated: read(() => message.dateUpdated),
    lastUpdatedBy: read(() => message.lastUpdatedBy),
    memberSid: read(() => (isChat ? message.memberSid : message.participantSid)),
    channelSid: channel ? channel.sid : null,
    media: media
      ? {
          sid: media.sid ?? null,
          contentType: media.contentType ?? null,
          filename: media.filename ?? null,
          size: media.size ?? null,
        }
      : null,
  };
}

function memberInfo(member) {
  if (!member) return null;
  const channel = isChat ? member.channel : member.conversation;
  return {
    sid: member.sid,
    identity: read(() => member.identity),
    attributes: read(() => member.attributes),
    lastConsumedMessageIndex: read(() =>
      isChat ? member.lastConsumedMessageIndex : member.lastReadMessageIndex
    ),
    lastConsumptionTimestamp: read(() =>
      isChat ? member.lastConsumptionTimestamp : member.lastReadTimestamp
    ),
    roleSid: read(() => member.roleSid),
    type: read(() => member.type),
    isTyping: read(() => member.isTyping),
    dateCreated: read(() => member.dateCreated),
    dateUpdated: read(() => member.dateUpdated),
    channelSid: channel ? channel.sid : null,
  };
}

function userInfo(user) {
  if (!user) return null;
  return {
    identity: read(() => user.identity),
    friendlyName: read(() => user.friendlyName),
    attributes: read(() => user.attributes),
    // twilio-chat calls them online and notifiable; conversations isOnline and isNotifiable.
    isOnline: read(() => (isChat ? user.online : user.isOnline)),
    isNotifiable: read(() => (isChat ? user.notifiable : user.isNotifiable)),
    isSubscribed: read(() => user.isSubscribed),
  };
}

function connectionErrorInfo(error) {
  return {
    terminal: error?.terminal ?? null,
    message: error?.message ?? null,
    httpStatusCode: error?.httpStatusCode ?? null,
    errorCode: error?.errorCode ?? null,
  };
}

// --- Events -----------------------------------------------------------------------------------

// The client's events, attached as soon as it is constructed so that none of the start-up is
// missed: SDK name -> [normalised name, fields].
const CLIENT_EVENTS = {
  connectionStateChanged: ["connectionStateChanged", (state) => ({ state })],
  connectionError: ["connectionError", connectionErrorInfo],
  tokenAboutToExpire: ["tokenAboutToExpire", (ttl) => ({ ttl: ttl ?? null })],
  tokenExpired: ["tokenExpired", () => ({})],
  userUpdated: [
    "userUpdated",
    (args) => ({ user: userInfo(args.user), updateReasons: args.updateReasons }),
  ],
  ...(isChat
    ? {
        channelAdded: ["channelAdded", (channel) => ({ channel: channelInfo(channel) })],
        channelRemoved: ["channelRemoved", (channel) => ({ channel: channelInfo(channel) })],
        channelJoined: ["channelJoined", (channel) => ({ channel: channelInfo(channel) })],
        channelLeft: ["channelLeft", (channel) => ({ channel: channelInfo(channel) })],
        channelInvited: ["channelInvited", (channel) => ({ channel: channelInfo(channel) })],
      }
    : {
        conversationAdded: ["channelAdded", (c) => ({ channel: channelInfo(c) })],
        conversationRemoved: ["channelRemoved", (c) => ({ channel: channelInfo(c) })],
        conversationJoined: ["channelJoined", (c) => ({ channel: channelInfo(c) })],
        conversationLeft: ["channelLeft", (c) => ({ channel: channelInfo(c) })],
      }),
  // twilio-chat 5.x has no stateChanged; the others fire "initialized" or "failed".
  ...(sdkName === "chat5" ? {} : { stateChanged: ["stateChanged", (state) => ({ state })] }),
};

// A channel's events, attached by the "listen" op.
const CHANNEL_EVENTS = {
  messageAdded: ["messageAdded", (message) => ({ message: messageInfo(message) })],
  messageRemoved: ["messageRemoved", (message) => ({ message: messageInfo(message) })],
  messageUpdated: [
    "messageUpdated",
    (args) => ({ message: messageInfo(args.message), updateReasons: args.updateReasons }),
  ],
  typingStarted: ["typingStarted", (member) => ({ member: memberInfo(member) })],
  typingEnded: ["typingEnded", (member) => ({ member: memberInfo(member) })],
  [isChat ? "memberJoined" : "participantJoined"]: [
    "memberJoined",
    (member) => ({ member: memberInfo(member) }),
  ],
  [isChat ? "memberLeft" : "participantLeft"]: [
    "memberLeft",
    (member) => ({ member: memberInfo(member) }),
  ],
  [isChat ? "memberUpdated" : "participantUpdated"]: [
    "memberUpdated",
    (args) => ({
      member: memberInfo(isChat ? args.member : args.participant),
      updateReasons: args.updateReasons,
    }),
  ],
  updated: [
    "updated",
    (args) => ({
      channel: channelInfo(isChat ? args.channel : args.conversation),
      updateReasons: args.updateReasons,
    }),
  ],
  removed: ["removed", (channel) => ({ channel: channelInfo(channel) })],
};

function attach(emitter, table, clientName, extra) {
  for (const [sdkEvent, [event, describe]] of Object.entries(table)) {
    emitter.on(sdkEvent, (...args) => {
      let data;
      try {
        data = describe(...args);
      } catch (err) {
        data = { describeError: String(err && err.message) };
      }
      emit(clientName, event, { sdkEvent, ...extra, ...data });
    });
  }
}

// --- Clients ----------------------------------------------------------------------------------

// name -> {client, ready, listening: Set of channel sids, pages: Map of id -> paginator}
const clients = new Map();
let pageIds = 0;

function entryOf(args) {
  const name = need(args, "client");
  const entry = clients.get(name);
  if (!entry) throw new DriverError("usage", `no client "${name}"`);
  if (!entry.ready) throw new DriverError("usage", `client "${name}" is still initialising`);
  return entry;
}

async function channelOf(args) {
  const entry = entryOf(args);
  if (args.sid !== undefined && args.sid !== null) return sdkApi.getBySid(entry.client, args.sid);
  if (args.uniqueName !== undefined && args.uniqueName !== null) {
    return sdkApi.getByUniqueName(entry.client, args.uniqueName);
  }
  throw new DriverError("usage", '"sid" or "uniqueName" is required');
}

async function allItems(paginator) {
  const items = [...paginator.items];
  while (paginator.hasNextPage) {
    paginator = await paginator.nextPage();
    items.push(...paginator.items);
  }
  return items;
}

// One page, kept so that "nextPage" and "prevPage" can go on from it.
function pageResult(entry, paginator, describe) {
  const page = ++pageIds;
  entry.pages.set(page, { paginator, describe });
  return {
    items: paginator.items.map(describe),
    hasPrevPage: paginator.hasPrevPage,
    hasNextPage: paginator.hasNextPage,
    page,
  };
}

async function turnPage(args, forward) {
  const entry = entryOf(args);
  const kept = entry.pages.get(need(args, "page"));
  if (!kept) throw new DriverError("usage", `no page ${args.page}`);
  const next = forward ? await kept.paginator.nextPage() : await kept.paginator.prevPage();
  return pageResult(entry, next, kept.describe);
}

async function messageAt(channel, index) {
  const page = await channel.getMessages(1, index, "backwards");
  const message = page.items.find((item) => item.index === index);
  if (!message) throw new DriverError("not_found", `no message ${index} in ${channel.sid}`);
  return message;
}

async function shutdownQuietly(client) {
  try {
    await withTimeout(client.shutdown(), 3000, "shutdown");
  } catch (err) {
    console.error("shutdown failed:", err);
  }
}

// Constructs the client and waits for it to initialise. Client.create() would do the same two
// steps, but hand the client back only at the end: doing them here attaches the listeners
// before the first connection attempt (twilio-chat 6.x's create() also swallows a failed
// start, and is deprecated for the constructor).
async function create(args) {
  const name = need(args, "client");
  const token = need(args, "token");
  const uri = need(args, "uri");
  if (clients.has(name)) throw new DriverError("usage", `client "${name}" exists`);
  const entry = { client: null, ready: false, listening: new Set(), pages: new Map() };
  clients.set(name, entry);
  const options = { twilsock: { uri }, logLevel: args.logLevel ?? "warn", ...(args.options ?? {}) };
  const started = Date.now();
  let lastConnectionError = null;
  let ready;
  try {
    const client = new Client(token, options);
    entry.client = client;
    attach(client, CLIENT_EVENTS, name, {});
    client.on("connectionError", (error) => (lastConnectionError = error));
    if (sdkName === "chat5") {
      // 5.x's Client.create() is `new Client(); await client.initialize()`. Until its
      // configuration arrives it passes on none of its twilsock's events (a refused
      // connection, a token about to expire), so the driver listens to its twilsock meanwhile;
      // data.source "twilsock" tells these apart.
      const twilsock = client.services.twilsockClient;
      const early = {};
      for (const sdkEvent of ["connectionError", "tokenAboutToExpire", "tokenExpired"]) {
        const [event, describe] = CLIENT_EVENTS[sdkEvent];
        early[sdkEvent] = (...payload) => {
          if (sdkEvent === "connectionError") lastConnectionError = payload[0];
          emit(name, event, { sdkEvent, source: "twilsock", ...describe(...payload) });
        };
        twilsock.on(sdkEvent, early[sdkEvent]);
      }
      const stopEarly = () => {
        for (const [sdkEvent, listener] of Object.entries(early)) {
          twilsock.removeListener(sdkEvent, listener);
        }
      };
      (client.configurationPromise ?? Promise.resolve()).then(stopEarly, () => {});
      ready = client.initialize();
    } else {
      ready = new Promise((resolve, reject) => {
        const failed = (error) =>
          reject(
            new DriverError(
              "init",
              `initialisation failed: ${error?.message ?? lastConnectionError?.message ?? "failed"}`,
              {
                code: error?.errorCode ?? lastConnectionError?.errorCode ?? null,
                status: error?.httpStatusCode ?? lastConnectionError?.httpStatusCode ?? null,
              }
            )
          );
        client.on("stateChanged", (state) => {
          if (state === "initialized") resolve();
          // Conversations follow a failed state with initFailed, which says why.
          if (state === "failed" && isChat) failed(null);
        });
        if (!isChat) client.on("initFailed", (args) => failed(args && args.error));
      });
    }
    ready.catch(() => {}); // a start that fails after the timeout is reported by its events
    await withTimeout(ready, args.timeoutMs ?? 15000, "initialisation");
  } catch (err) {
    clients.delete(name);
    if (entry.client) await shutdownQuietly(entry.client);
    if (err instanceof DriverError) {
      if (err.kind === "timeout" && lastConnectionError) {
        err.message += ` (last connection error: ${lastConnectionError.message})`;
      }
      throw err;
    }
    const info = errorInfo(err);
    throw new DriverError("init", `initialisation failed: ${info.message}`, {
      code: info.code,
      status: info.status,
      body: info.body,
    });
  }
  const client = entry.client;
  entry.ready = true;
  return {
    client: name,
    sdk: sdkName,
    version: sdkVersion,
    identity: read(() => client.user.identity),
    connectionState: read(() => client.connectionState),
    initMs: Date.now() - started,
  };
}

// --- Operations -------------------------------------------------------------------------------

const OPS = {
  ping: async () => ({ sdk: sdkName, version: sdkVersion, clients: [...clients.keys()] }),

  create,

  async updateToken(args) {
    const entry = entryOf(args);
    await entry.client.updateToken(need(args, "token"));
    return { connectionState: read(() => entry.client.connectionState) };
  },

  async shutdown(args) {
    const entry = entryOf(args);
    clients.delete(args.client);
    await entry.client.shutdown();
    return null;
  },

  async subscribedChannels(args) {
    const entry = entryOf(args);
    const items = await allItems(await sdkApi.subscribed(entry.client));
    return items.map(channelInfo);
  },

  // The same, page by page as the SDK hands them out: [[channel, ...], ...]. twilio-chat takes
  // a page size (its default is Sync's, 50); Conversations always page by 50.
  async subscribedChannelPages(args) {
    const entry = entryOf(args);
    let paginator = isChat
      ? await entry.client.getSubscribedChannels(
          args.pageSize ? { pageSize: args.pageSize } : undefined
        )
      : await entry.client.getSubscribedConversations();
    const pages = [paginator.items.map(channelInfo)];
    while (paginator.hasNextPage) {
      paginator = await paginator.nextPage();
      pages.push(paginator.items.map(channelInfo));
    }
    return pages;
  },

  async publicChannels(args) {
    if (!isChat) unsupported("publicChannels");
    const entry = entryOf(args);
    const items = await allItems(await entry.client.getPublicChannelDescriptors());
    return items.map(descriptorInfo);
  },

  async getChannel(args) {
    return channelInfo(await channelOf(args));
  },

  async createChannel(args) {
    const entry = entryOf(args);
    const options = {};
    for (const key of ["friendlyName", "uniqueName", "attributes", "isPrivate"]) {
      if (args[key] !== undefined && args[key] !== null) options[key] = args[key];
    }
    return channelInfo(await sdkApi.create(entry.client, options));
  },

  async join(args) {
    return channelInfo(await (await channelOf(args)).join());
  },

  async leave(args) {
    return channelInfo(await (await channelOf(args)).leave());
  },

  async add(args) {
    const channel = await channelOf(args);
    await sdkApi.add(channel, need(args, "identity"), optional(args.attributes));
    return null;
  },

  async invite(args) {
    if (!isChat) unsupported("invite");
    await (await channelOf(args)).invite(need(args, "identity"));
    return null;
  },

  async removeMember(args) {
    await sdkApi.removeMember(await channelOf(args), need(args, "identity"));
    return null;
  },

  async decline(args) {
    if (!isChat) unsupported("decline");
    return channelInfo(await (await channelOf(args)).decline());
  },

  async updateChannel(args) {
    const channel = await channelOf(args);
    if (args.friendlyName !== undefined) await channel.updateFriendlyName(args.friendlyName);
    if (args.attributes !== undefined) await channel.updateAttributes(args.attributes);
    if (args.newUniqueName !== undefined) await channel.updateUniqueName(args.newUniqueName);
    return channelInfo(channel);
  },

  async deleteChannel(args) {
    return channelInfo(await (await channelOf(args)).delete());
  },

  async getMessages(args) {
    const entry = entryOf(args);
    const channel = await channelOf(args);
    const paginator = await channel.getMessages(
      optional(args.pageSize),
      optional(args.anchor),
      optional(args.direction)
    );
    return pageResult(entry, paginator, messageInfo);
  },

  nextPage: (args) => turnPage(args, true),
  prevPage: (args) => turnPage(args, false),

  async sendMessage(args) {
    const channel = await channelOf(args);
    const body = args.body === undefined ? null : args.body;
    return channel.sendMessage(body, optional(args.attributes));
  },

  // A media message: the bytes (base64) with a content type and file name, uploaded by the SDK
  // to the configuration's media service, then sent. how: "options" (sendMessage({contentType,
  // media: Buffer, filename}), every SDK; FormData works only in browsers), "builder"
  // (Conversations' prepareMessage().setBody().addMedia().build().send()).
  async sendMedia(args) {
    const channel = await channelOf(args);
    const media = {
      contentType: need(args, "contentType"),
      media: Buffer.from(need(args, "base64"), "base64"),
      filename: optional(args.filename),
    };
    if (args.how === "builder") {
      if (isChat) unsupported("prepareMessage");
      let builder = channel.prepareMessage();
      if (args.body !== undefined && args.body !== null) builder = builder.setBody(args.body);
      return builder.addMedia(media).build().send();
    }
    return channel.sendMessage(media, optional(args.attributes));
  },

  // The bytes of the media of the message at "index", from the URL that
  // media.getContentTemporaryUrl() resolves to, fetched without any token.
  async mediaContent(args) {
    const message = await messageAt(await channelOf(args), need(args, "index"));
    const media = message.media;
    if (!media) throw new DriverError("not_found", `message ${args.index} carries no media`);
    const url = await media.getContentTemporaryUrl();
    const response = await fetch(url);
    const bytes = Buffer.from(await response.arrayBuffer());
    return {
      url,
      status: response.status,
      contentType: response.headers.get("content-type"),
      base64: bytes.toString("base64"),
    };
  },

  async updateMessageBody(args) {
    const message = await messageAt(await channelOf(args), need(args, "index"));
    return messageInfo(await message.updateBody(need(args, "body")));
  },

  async updateMessageAttributes(args) {
    const message = await messageAt(await channelOf(args), need(args, "index"));
    return messageInfo(await message.updateAttributes(need(args, "attributes")));
  },

  async removeMessage(args) {
    const message = await messageAt(await channelOf(args), need(args, "index"));
    return messageInfo(await message.remove());
  },

  async typing(args) {
    await (await channelOf(args)).typing();
    return null;
  },

  // The read horizon; each answers what the SDK returns (the unread count, as a rule).
  async setAllRead(args) {
    return plain(await sdkApi.setAllRead(await channelOf(args)));
  },

  async advanceRead(args) {
    return plain(await sdkApi.advanceRead(await channelOf(args), need(args, "index")));
  },

  async updateRead(args) {
    return plain(await sdkApi.updateRead(await channelOf(args), args.index ?? null));
  },

  async setNoneRead(args) {
    return plain(await sdkApi.setNoneRead(await channelOf(args)));
  },

  async unreadCount(args) {
    return plain(await sdkApi.unreadCount(await channelOf(args)));
  },

  async counts(args) {
    const channel = await channelOf(args);
    return {
      messages: await channel.getMessagesCount(),
      members: await sdkApi.membersCount(channel),
    };
  },

  async members(args) {
    return (await sdkApi.members(await channelOf(args))).map(memberInfo);
  },

  async getUser(args) {
    const entry = entryOf(args);
    return userInfo(await entry.client.getUser(need(args, "identity")));
  },

  async updateUser(args) {
    const entry = entryOf(args);
    const user = entry.client.user;
    if (args.friendlyName !== undefined) await user.updateFriendlyName(args.friendlyName);
    if (args.attributes !== undefined) await user.updateAttributes(args.attributes);
    return userInfo(user);
  },

  // Push registration (ERS through twilsock); "removePushRegistrations" is Conversations'.
  async setPushRegistrationId(args) {
    const entry = entryOf(args);
    await entry.client.setPushRegistrationId(need(args, "channelType"), need(args, "registrationId"));
    return null;
  },

  async unsetPushRegistrationId(args) {
    const entry = entryOf(args);
    await entry.client.unsetPushRegistrationId(need(args, "channelType"));
    return null;
  },

  async removePushRegistrations(args) {
    const entry = entryOf(args);
    if (typeof entry.client.removePushRegistrations !== "function") unsupported("removePushRegistrations");
    await entry.client.removePushRegistrations(need(args, "channelType"), need(args, "registrationId"));
    return null;
  },

  async listen(args) {
    const entry = entryOf(args);
    const channel = await channelOf(args);
    if (!entry.listening.has(channel.sid)) {
      entry.listening.add(channel.sid);
      attach(channel, CHANNEL_EVENTS, args.client, { channelSid: channel.sid });
    }
    return channelInfo(channel);
  },
};

async function handle(request) {
  const id = request.id ?? null;
  try {
    const op = Object.hasOwn(OPS, request.op) ? OPS[request.op] : null;
    if (!op) throw new DriverError("usage", `unknown op ${JSON.stringify(request.op)}`);
    let work = op(request);
    // "create" has a timeout of its own; any op may be given one.
    if (request.timeoutMs && request.op !== "create") {
      work = withTimeout(work, request.timeoutMs, request.op);
    }
    send({ id, ok: true, result: plain(await work) });
  } catch (err) {
    send({ id, ok: false, error: errorInfo(err) });
  }
}

// --- The process ------------------------------------------------------------------------------

// An SDK's stray rejection must not end the driver (Node.js would, by default): it is reported
// as an event, so that a test can see that it happened.
process.on("unhandledRejection", (reason) => {
  console.error("unhandled rejection:", reason);
  emit(null, "unhandledRejection", errorInfo(reason));
});
process.on("uncaughtException", (err) => {
  console.error("uncaught exception:", err);
  emit(null, "uncaughtException", errorInfo(err));
});

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (!line.trim()) return;
  let request;
  try {
    request = JSON.parse(line);
  } catch (err) {
    send({ id: null, ok: false, error: errorInfo(new DriverError("usage", `not JSON: ${line}`)) });
    return;
  }
  handle(request);
});
lines.on("close", async () => {
  const all = [...clients.values()].filter((entry) => entry.client);
  clients.clear();
  await Promise.all(all.map((entry) => shutdownQuietly(entry.client)));
  process.exit(0);
});

emit(null, "ready", { sdk: sdkName, version: sdkVersion, node: process.version });
