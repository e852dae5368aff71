// @ts-check
// The page's service worker, for Web Push alone: it shows a notification for each push (the
// browser has decrypted it; its JSON carries `title`, `body` and Twilio's fields such as
// `channel_sid`), and a click on one brings the chat page forward. No fetch handler: the page
// works the same with or without it.

const worker = /** @type {any} */ (self);

/**
 * What a push says, as the notification shows it.
 * @param {{json(): any, text(): string} | null} data
 */
function describe(data) {
  /** @type {Record<string, unknown>} */
  let payload = {};
  try {
    payload = data ? data.json() : {};
  } catch {
    payload = { body: data ? data.text() : "" };
  }
  const text = (/** @type {unknown} */ value) => (typeof value === "string" ? value : "");
  return {
    title: text(payload.title) || text(payload.twi_title) || "New activity in hubbub chat",
    options: {
      body: text(payload.body) || text(payload.twi_body),
      // One notification per channel: a newer message replaces the older one.
      tag: text(payload.channel_sid) || undefined,
      data: { channelSid: text(payload.channel_sid), type: text(payload.twi_message_type) },
    },
  };
}

worker.addEventListener("push", (/** @type {any} */ event) => {
  const { title, options } = describe(event.data);
  event.waitUntil(worker.registration.showNotification(title, options));
});

worker.addEventListener("notificationclick", (/** @type {any} */ event) => {
  event.notification.close();
  event.waitUntil(
    worker.clients.matchAll({ type: "window", includeUncontrolled: true }).then(
      (/** @type {any[]} */ windows) => {
        const page = windows.find((w) => new URL(w.url).pathname === "/");
        return page ? page.focus() : worker.clients.openWindow("/");
      },
    ),
  );
});
