// What an embedding server does with the SDK's Node checks, against a real server and worker:
// a webhook received on a real HTTP endpoint and verified, and result tokens verified against
// the JWKS, also after the service rotated its signing key.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";

import { ResultTokenVerifier, WebhookVerificationError, verifyResultToken, verifyWebhook } from "../src/node.js";
import { BASE_URL, admin, configure, uniqueName, until } from "./support.js";

/** A webhook endpoint on loopback that keeps each request's raw body and headers. */
async function receiver() {
  /** @type {{body: Buffer, headers: import("node:http").IncomingHttpHeaders}[]} */
  const received = [];
  const server = createServer((request, response) => {
    /** @type {Buffer[]} */
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ body: Buffer.concat(chunks), headers: request.headers });
      response.end("thanks");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(null)));
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  return { url: `http://127.0.0.1:${address.port}/hook`, received, close: () => server.close() };
}

describe("webhooks", () => {
  /** @type {Awaited<ReturnType<typeof receiver>>} */
  let endpoint;
  /** @type {string} */
  let secret;
  /** @type {string} */
  let webhookId;
  before(async () => {
    endpoint = await receiver();
    const created = await admin().webhooks.create({ url: endpoint.url, events: ["flow.created"] });
    secret = created.secret;
    webhookId = created.id;
  });
  after(async () => {
    await admin().webhooks.delete(webhookId);
    endpoint.close();
  });

  test("a delivery verifies with the endpoint's secret and names its flow", async () => {
    const session = await admin().flows.start({ user: { id: uniqueName("hooked") } });
    const delivery = await until(() => endpoint.received.find((r) => JSON.parse(r.body.toString()).data.flow_id === session.id),
      "the webhook about the new flow");
    const message = verifyWebhook(secret, delivery.body, delivery.headers);
    assert.equal(message.type, "flow.created");
    assert.equal(message.data.flow_id, session.id);
    // The same delivery, with a Headers object and the body as text.
    assert.equal(verifyWebhook(secret, delivery.body.toString(), new Headers(/** @type {any} */ (delivery.headers))).type, "flow.created");
  });

  test("a changed body, another secret or a missing signature is refused", async () => {
    const session = await admin().flows.start({ user: { id: uniqueName("hooked") } });
    const delivery = await until(() => endpoint.received.find((r) => JSON.parse(r.body.toString()).data.flow_id === session.id),
      "the webhook about the new flow");
    const tampered = Buffer.from(delivery.body.toString().replace(session.id, "00000000-0000-4000-8000-000000000000"));
    assert.throws(() => verifyWebhook(secret, tampered, delivery.headers), WebhookVerificationError);
    const otherSecret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
    assert.throws(() => verifyWebhook(otherSecret, delivery.body, delivery.headers), WebhookVerificationError);
    const { "webhook-signature": _dropped, ...unsigned } = delivery.headers;
    assert.throws(() => verifyWebhook(secret, delivery.body, unsigned), WebhookVerificationError);
  });
});

describe("result tokens", () => {
  before(() => configure({ factors: [], policy: "user_controlled" }));

  async function signedIn() {
    const session = await admin().flows.start({ user: { id: uniqueName("token") } });
    assert.equal(session.flow.state, "done");
    return /** @type {string} */ (session.flow.result?.token);
  }

  test("a token verifies in one call; a token changed by one character does not", async () => {
    const token = await signedIn();
    const claims = await verifyResultToken(token, { baseUrl: BASE_URL, issuer: "mfa-flow", audience: "mfa-flow" });
    assert.equal(typeof claims.sub, "string");
    const [head, body, signature] = token.split(".");
    const forged = [head, body, signature.slice(0, -2) + (signature.endsWith("A") ? "BA" : "AA")].join(".");
    await assert.rejects(verifyResultToken(forged, { baseUrl: BASE_URL, issuer: "mfa-flow", audience: "mfa-flow" }));
    await assert.rejects(verifyResultToken(token, { baseUrl: BASE_URL, issuer: "someone-else", audience: "mfa-flow" }));
  });

  test("after the service rotates its key, a verifier that cached the old key set verifies the new key's tokens", async () => {
    const verifier = new ResultTokenVerifier({ baseUrl: BASE_URL, issuer: "mfa-flow", audience: "mfa-flow", cooldown: 0 });
    const before = await signedIn();
    await verifier.verify(before);
    rotateKey();
    const after = await signedIn();
    const kid = (/** @type {string} */ token) => JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString()).kid;
    assert.notEqual(kid(after), kid(before), "the new token is signed by the new key");
    assert.equal((await verifier.verify(after)).iss, "mfa-flow");
    assert.equal((await verifier.verify(before)).iss, "mfa-flow", "the retired key still verifies its tokens");
  });
});

/** `mfa-flow keys rotate` on the server's database, as an operator runs it. */
function rotateKey() {
  const python = process.env.MFA_FLOW_TEST_PYTHON;
  const serverEnv = Object.fromEntries((process.env.MFA_FLOW_TEST_SERVER_ENV || "").split("\n").filter(Boolean)
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
  assert.ok(python, "MFA_FLOW_TEST_PYTHON names the service's Python");
  execFileSync(python, ["-m", "mfa_flow.cli", "keys", "rotate"], { env: { ...process.env, ...serverEnv }, encoding: "utf8" });
}
