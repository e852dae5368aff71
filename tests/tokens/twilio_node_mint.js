// Mints Access Tokens with the real twilio-node package, for the cross-library tests.
// Reads a JSON array of cases on stdin and writes a JSON array of tokens on stdout.
"use strict";
const AccessToken = require("twilio").jwt.AccessToken;

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const tokens = JSON.parse(input).map((c) => {
    const options = { identity: c.identity, ttl: c.ttl };
    if (c.nbf !== undefined) options.nbf = c.nbf;
    if (c.region !== undefined) options.region = c.region;
    const token = new AccessToken(c.accountSid, c.keySid, c.secret, options);
    token.addGrant(
      new AccessToken.ChatGrant({ serviceSid: c.serviceSid, endpointId: c.endpointId })
    );
    return token.toJwt(c.algorithm);
  });
  process.stdout.write(JSON.stringify(tokens));
});
