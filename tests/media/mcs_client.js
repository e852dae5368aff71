// Twilio's own media client (@twilio/mcs-client, what twilio-chat 6 and @twilio/conversations
// use) against hubbub's media service, under Node.js: upload, fetch, temporary link, MediaSet.
// Usage: node mcs_client.js MEDIA_URL TOKEN; prints one JSON line of what the client saw.
global.XMLHttpRequest = require("xmlhttprequest").XMLHttpRequest; // what the SDKs use in Node
const { McsClient } = require("@twilio/mcs-client");

(async () => {
  const [url, token] = process.argv.slice(2);
  const client = new McsClient(token, url, url + "Set");
  const media = await client.post("image/png", Buffer.from("a png, say"), "media", "dot.png");
  const fetched = await client.get(media.sid);
  const link = await fetched.getContentUrl();
  const set = await client.mediaSetGet([media.sid]);
  // Its state is what it parsed of the answer (not every field has a getter).
  const seen = (m) => ({
    sid: m.sid, serviceSid: m.serviceSid, channelSid: m.state.channelSid,
    messageSid: m.state.messageSid, size: m.size, contentType: m.contentType,
    filename: m.filename, category: m.category, author: m.state.author,
    datesParsed: [m.dateCreated, m.state.dateUploadUpdated, m.dateUpdated].every(
      (d) => d instanceof Date && !isNaN(d)),
  });
  console.log(JSON.stringify({ posted: seen(media), fetched: seen(fetched), link, set: set.map(seen) }));
})().catch((error) => {
  console.error(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
