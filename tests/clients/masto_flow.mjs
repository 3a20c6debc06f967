// masto.js against a Reverie instance; run by test_masto_js.py.
//   node masto_flow.mjs register BASE_URL REDIRECT          -> prints the registered app
//   node masto_flow.mjs session  BASE_URL REDIRECT (env: CLIENT_ID CLIENT_SECRET CODE VERIFIER PNG)
// Prints one JSON object with what the library returned, for the test to check.
import { readFileSync } from "node:fs";

// masto 8 calls Promise.withResolvers (Node 22); Debian's Node 20 lacks it.
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject;
  const promise = new Promise((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
};
const { createOAuthAPIClient, createRestAPIClient } = await import("masto");

const [phase, url, redirectUri] = process.argv.slice(2);
const scopes = "read write follow push";

async function register() {
  const masto = createRestAPIClient({ url });
  const app = await masto.v1.apps.create({ clientName: "masto.js test", redirectUris: redirectUri, scopes });
  return { clientId: app.clientId, clientSecret: app.clientSecret, name: app.name };
}

async function session() {
  const { CLIENT_ID, CLIENT_SECRET, CODE, VERIFIER, PNG } = process.env;
  const oauth = createOAuthAPIClient({ url });
  const token = await oauth.token.create({
    grantType: "authorization_code",
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri,
    code: CODE,
    codeVerifier: VERIFIER,
    scope: scopes,
  });
  const masto = createRestAPIClient({ url, accessToken: token.accessToken });
  const me = await masto.v1.accounts.verifyCredentials();
  const instance = await masto.v2.instance.fetch();
  const media = await masto.v2.media.create({
    file: new Blob([readFileSync(PNG)], { type: "image/png" }),
    description: "a green rectangle",
  });
  const status = await masto.v1.statuses.create({ status: "a green field #meadow", mediaIds: [media.id] });
  const home = await masto.v1.timelines.home.list();
  const local = await masto.v1.timelines.public.list({ local: true });
  const favourited = await masto.v1.statuses.$select(status.id).favourite();
  const reblogged = await masto.v1.statuses.$select(status.id).reblog();

  const notifications = await masto.v1.notifications.list();
  const deleted = await masto.v1.statuses.$select(status.id).remove();
  let gone = false;
  try {
    await masto.v1.statuses.$select(status.id).fetch();
  } catch (error) {
    gone = error.statusCode === 404;
  }
  return {
    username: me.username,
    version: instance.version,
    mediaUrl: media.url,
    mediaDescription: media.description,
    statusId: status.id,
    statusMedia: status.mediaAttachments.map((m) => m.id),
    mediaId: media.id,
    tags: status.tags.map((t) => t.name),
    inHome: home.some((s) => s.id === status.id),
    inLocal: local.some((s) => s.id === status.id),
    favourited: favourited.favourited,
    rebloggedOf: reblogged.reblog && reblogged.reblog.id,
    notifications: notifications.length,
    deletedText: deleted.text,
    gone,
  };
}

const result = phase === "register" ? await register() : await session();
console.log(JSON.stringify(result));
process.exit(0);
