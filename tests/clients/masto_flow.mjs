// masto.js against a Reverie instance; run by test_masto_js.py.
//   node masto_flow.mjs register BASE_URL REDIRECT          -> prints the registered app
//   node masto_flow.mjs session  BASE_URL REDIRECT
//     (env: CLIENT_ID CLIENT_SECRET CODE VERIFIER PNG, and OTHER_CODE OTHER_VERIFIER for a second person)
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
const { createOAuthAPIClient, createRestAPIClient, createStreamingAPIClient } = await import("masto");
const { WebSocket } = await import("ws");
// masto 8's connector checks `ws.readyState === WebSocket.OPEN` against the global WebSocket (Node 22),
// even when given an implementation; on Node 20 that throws, and it retries for ever without a word.
globalThis.WebSocket ??= WebSocket;

const [phase, url, redirectUri] = process.argv.slice(2);
const scopes = "read write follow push";

async function register() {
  const masto = createRestAPIClient({ url });
  const app = await masto.v1.apps.create({ clientName: "masto.js test", redirectUris: redirectUri, scopes });
  return { clientId: app.clientId, clientSecret: app.clientSecret, name: app.name };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The first of `events` (filled by the stream) that `wanted` accepts, or null after `ms`.
async function arrival(events, wanted, ms) {
  for (let waited = 0; waited < ms; waited += 100) {
    const found = events.find(wanted);
    if (found) return found;
    await sleep(100);
  }
  return null;
}

// masto.js's user stream, as an app holds it: events pile up in `events` as they come.
async function userStream(instance, accessToken) {
  const streaming = createStreamingAPIClient({
    streamingApiUrl: instance.configuration.urls.streaming,
    accessToken,
    implementation: WebSocket,
    retry: 3,
  });
  const events = [];
  const subscription = streaming.user.subscribe();
  (async () => {
    for await (const event of subscription) events.push(event);
  })().catch((error) => events.push({ event: "error", payload: String(error) }));
  await streaming.prepare();
  return { streaming, events };
}

async function live(masto, instance, token, other) {
  const { streaming, events } = await userStream(instance, token.accessToken);
  // The subscribe message has no answer in Mastodon's protocol: post again if the first post came before it
  let post = null;
  let update = null;
  let attempts = 0;
  for (let attempt = 0; attempt < 3 && !update; attempt += 1) {
    attempts += 1;
    post = await masto.v1.statuses.create({ status: `live from the meadow ${attempt}` });
    const id = post.id;
    update = await arrival(events, (e) => e.event === "update" && e.payload.id === id, 10000);
  }
  await other.v1.statuses.$select(post.id).favourite();
  const note = await arrival(
    events,
    (e) => e.event === "notification" && e.payload.type === "favourite" && e.payload.status.id === post.id,
    20000,
  );
  streaming.close();
  return {
    liveId: post.id,
    posts: attempts,
    streamedId: update && update.payload.id,
    streamedContent: update && update.payload.content,
    streamedNotification: note && { type: note.payload.type, acct: note.payload.account.acct, key: note.payload.groupKey },
    streamErrors: events.filter((e) => e.event === "error").map((e) => e.payload),
  };
}

async function session() {
  const { CLIENT_ID, CLIENT_SECRET, CODE, VERIFIER, PNG, OTHER_CODE, OTHER_VERIFIER } = process.env;
  const oauth = createOAuthAPIClient({ url });
  const grant = (code, codeVerifier) =>
    oauth.token.create({
      grantType: "authorization_code",
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUri,
      code,
      codeVerifier,
      scope: scopes,
    });
  const token = await grant(CODE, VERIFIER);
  const other = createRestAPIClient({ url, accessToken: (await grant(OTHER_CODE, OTHER_VERIFIER)).accessToken });
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

  const streamed = await live(masto, instance, token, other);
  const notifications = await masto.v1.notifications.list();
  const grouped = await masto.v2.notifications.list();
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
    ...streamed,
    groups: grouped.notificationGroups.map((g) => ({
      key: g.groupKey,
      type: g.type,
      count: g.notificationsCount,
      statusId: g.statusId,
      accounts: g.sampleAccountIds,
    })),
    groupAccounts: grouped.accounts.map((a) => a.acct),
    groupStatuses: grouped.statuses.map((s) => s.id),
    deletedText: deleted.text,
    gone,
  };
}

const result = phase === "register" ? await register() : await session();
console.log(JSON.stringify(result));
process.exit(0);
