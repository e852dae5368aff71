// @ts-check
// Browser notifications: when the account has a webpush credential (the server tells its
// public key), the "Enable notifications" button subscribes this browser with the Push API
// and registers the subscription as the user's webpush binding over /v1/ws. Signing out
// removes it, so the next person on this browser is not told of the last one's messages.

import { ui } from "./dom.js";
import { state } from "./state.js";

const WORKER = "/static/push-worker.js";

/** Whether this browser can take Web Push at all (a secure context with the Push API). */
function supported() {
  return (
    globalThis.isSecureContext &&
    "serviceWorker" in navigator &&
    "PushManager" in globalThis &&
    "Notification" in globalThis
  );
}

/**
 * The VAPID key in base64url, as the bytes applicationServerKey takes.
 * @param {string} key
 */
function keyBytes(key) {
  const base64 = key.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** @param {string} text */
function say(text) {
  ui.notifyStatus.textContent = text;
}

/** This browser's subscription, if it has one (without asking for anything). */
async function existing() {
  const registration = await navigator.serviceWorker.getRegistration(WORKER);
  return registration ? registration.pushManager.getSubscription() : null;
}

/**
 * After sign-in: offer the button if the server can push to browsers, and renew the
 * registration of a browser that is subscribed already (for whoever signed in now).
 */
export async function offerNotifications() {
  ui.notify.hidden = true;
  say("");
  const client = state.client;
  if (!client || !supported()) return;
  const key = await client.getWebPushKey();
  if (!key || state.client !== client) return;
  ui.notify.dataset.key = key;
  ui.notify.hidden = false;
  const subscription = Notification.permission === "granted" ? await existing() : null;
  if (subscription) {
    await client.setPushRegistrationId("webpush", subscription.toJSON());
    showEnabled(true);
  } else {
    showEnabled(false);
  }
}

/** @param {boolean} enabled */
function showEnabled(enabled) {
  ui.notify.textContent = enabled ? "Turn off notifications" : "Enable notifications";
  ui.notify.setAttribute("aria-pressed", String(enabled));
  say(enabled ? "Notifications are on." : "");
}

/**
 * The registration once its worker is active (subscribing needs one). Not
 * `navigator.serviceWorker.ready`: that waits for a worker controlling this page, and the
 * worker's scope is /static/, not the page.
 * @param {ServiceWorkerRegistration} registration
 * @returns {Promise<ServiceWorkerRegistration>}
 */
async function activated(registration) {
  const worker = registration.installing || registration.waiting;
  if (registration.active || !worker) return registration;
  await new Promise((resolve, reject) => {
    worker.addEventListener("statechange", () => {
      if (worker.state === "activated") resolve(null);
      if (worker.state === "redundant") reject(new Error("the service worker failed to start"));
    });
  });
  return registration;
}

async function enable() {
  const client = state.client;
  const key = ui.notify.dataset.key;
  if (!client || !key) return;
  if ((await Notification.requestPermission()) !== "granted") {
    say("Notifications are blocked in this browser's settings.");
    return;
  }
  const registration = await activated(await navigator.serviceWorker.register(WORKER));
  let subscription = await registration.pushManager.getSubscription();
  if (!subscription) {
    subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(key),
    });
  }
  await client.setPushRegistrationId("webpush", subscription.toJSON());
  showEnabled(true);
}

async function disable() {
  const subscription = await existing();
  if (subscription && state.client) {
    await state.client.removePushRegistrations("webpush", subscription.toJSON());
  }
  if (subscription) await subscription.unsubscribe();
  showEnabled(false);
}

/** Before signing out: this browser's registration goes, its subscription stays. */
export async function forgetNotifications() {
  if (!supported() || !state.client) return;
  try {
    const subscription = await existing();
    if (subscription) await state.client.removePushRegistrations("webpush", subscription.toJSON());
  } catch (error) {
    console.warn("could not remove this browser's push registration", error);
  }
}

ui.notify.addEventListener("click", async () => {
  ui.notify.disabled = true;
  try {
    if (ui.notify.getAttribute("aria-pressed") === "true") await disable();
    else await enable();
  } catch (error) {
    say(`Notifications could not be turned on: ${error instanceof Error ? error.message : error}`);
  } finally {
    ui.notify.disabled = false;
  }
});
