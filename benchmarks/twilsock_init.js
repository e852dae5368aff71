// Times Twilio's Conversations SDK starting against hubbub, for bench_twilsock.py --part init.
//
//     node benchmarks/twilsock_init.js SPEC.json
//
// SPEC: {"sdk": "<path of @twilio/conversations>", "uri": "ws://127.0.0.1:PORT/v3/wsconnect",
// "tokens": [one per run], "channels": N}. For each token, one after another: new Client(token,
// {twilsock: {uri}}), the ms until "initialized", then until getSubscribedConversations() (all
// pages) holds N conversations, then shutdown(). Prints one JSON line per run.
"use strict";

const fs = require("fs");

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const { Client } = require(spec.sdk);

function once(client, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no initialized in time")), timeoutMs);
    client.once("initialized", () => {
      clearTimeout(timer);
      resolve();
    });
    client.once("initFailed", ({ error }) => {
      clearTimeout(timer);
      reject(new Error(`initFailed: ${error && error.message}`));
    });
  });
}

async function run(token) {
  const start = process.hrtime.bigint();
  const ms = () => Number(process.hrtime.bigint() - start) / 1e6;
  const client = new Client(token, { logLevel: "silent", twilsock: { uri: spec.uri } });
  const result = {};
  try {
    await once(client, 30000);
    result.initialized = ms();
    let page = await client.getSubscribedConversations();
    let count = page.items.length;
    while (page.hasNextPage) {
      page = await page.nextPage();
      count += page.items.length;
    }
    result.count = count;
    result.conversations = count === spec.channels ? ms() : null;
  } catch (error) {
    result.error = String(error && error.message ? error.message : error);
  }
  await client.shutdown().catch(() => {});
  return result;
}

(async () => {
  for (const token of spec.tokens) {
    console.log(JSON.stringify(await run(token)));
  }
  process.exit(0);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
