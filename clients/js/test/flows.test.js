// Flows driven and followed through the SDK, against a real server.

import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import { ApiError, isTerminal } from "../src/index.js";
import { ResultTokenVerifier } from "../src/node.js";
import { BASE_URL, admin, anonymous, configure, totpCode, uniqueName, until } from "./support.js";

const PASSWORD = "correct horse battery staple";

async function newUser() {
  const username = uniqueName("js");
  const user = await admin().users.create({ username, password: PASSWORD });
  return { ...user, username };
}

describe("a sign-in driven through the SDK", () => {
  before(() => configure({ factors: ["totp"], policy: "mandatory" }));

  test("sets up TOTP over the WebSocket and ends with a result token that verifies against the JWKS", async () => {
    const { username, id } = await newUser();
    const session = await anonymous().flows.start();
    assert.equal(session.flow.state, "first_factor");
    /** @type {string[]} */
    const seen = [];
    session.subscribe((flow) => seen.push(flow.state));
    /** @type {string[]} */
    const transports = [];
    session.follow({ onTransport: (t) => transports.push(t) });
    await until(() => session.transport === "websocket", "the WebSocket to open");

    const setup = await session.send({ type: "submit_password", username, password: PASSWORD });
    assert.equal(setup?.state, "totp_setup");
    const secret = /** @type {any} */ (session.flow.challenge).secret;
    const done = await session.send({ type: "submit_totp", code: await totpCode(secret) });
    assert.equal(done?.state, "done");
    assert.deepEqual(seen, ["totp_setup", "done"]);
    assert.deepEqual(transports, ["websocket", "stopped"]);

    const claims = await new ResultTokenVerifier({ baseUrl: BASE_URL, issuer: "mfa-flow", audience: "mfa-flow" })
      .verify(/** @type {string} */ (done?.result?.token));
    assert.equal(claims.sub, id);
    assert.equal(claims.sid, session.id);
    assert.ok(Array.isArray(claims.amr) && claims.amr.includes("otp"));
  });

  test("a wrong code is an ApiError carrying the problem, and the flow counts the attempt", async () => {
    const { username } = await newUser();
    const session = await anonymous().flows.start();
    await session.send({ type: "submit_password", username, password: PASSWORD });
    const before = session.flow.attempts_left;
    const refused = await session.send({ type: "submit_totp", code: "000000" }).catch((error) => error);
    assert.ok(refused instanceof ApiError);
    assert.equal(refused.status, 422);
    assert.equal(refused.kind, "wrong-proof");
    assert.equal(refused.problem.attempts_left, before - 1);
    assert.equal((await session.refresh()).attempts_left, before - 1);
  });

  test("an event for a version the flow has left is refused with 409, not applied", async () => {
    const { username } = await newUser();
    const session = await anonymous().flows.start();
    const stale = session.version;
    await session.send({ type: "submit_password", username, password: PASSWORD });
    const refused = await session.send({ type: "cancel" }, { expectedVersion: stale }).catch((error) => error);
    assert.ok(refused instanceof ApiError);
    assert.equal(refused.status, 409);
    assert.equal((await session.refresh()).state, "totp_setup");
  });

  test("without a WebSocket, a session follows by long-polling and sees another client's event", async () => {
    const { username } = await newUser();
    const driver = await anonymous().flows.start();
    const follower = await anonymous({ WebSocket: null }).flows.resume(driver.id, /** @type {string} */ (driver.token));
    /** @type {string[]} */
    const transports = [];
    follower.follow({ onTransport: (t) => transports.push(t), wait: 5 });
    assert.equal(follower.transport, "long-poll");
    await driver.send({ type: "submit_password", username, password: PASSWORD });
    await until(() => follower.flow.state === "totp_setup", "the long-poll to bring the change");
    await driver.send({ type: "cancel" });
    await until(() => isTerminal(follower.flow.state), "the cancellation");
    assert.equal(follower.flow.state, "cancelled");
    assert.deepEqual(transports, ["long-poll", "stopped"]);
  });

  test("a wrong flow token stops following with the server's refusal", async () => {
    const session = await anonymous().flows.start();
    const stranger = await anonymous().flows.start();
    const intruder = await anonymous().flows.resume(stranger.id, /** @type {string} */ (stranger.token));
    intruder.flow = session.flow; // the other flow, with this flow's token
    /** @type {Error[]} */
    const errors = [];
    intruder.follow({ onError: (e) => errors.push(e) });
    await until(() => errors.length, "the refusal");
    assert.ok(errors[0] instanceof ApiError);
    assert.equal(/** @type {ApiError} */ (errors[0]).status, 403);
    assert.equal(intruder.transport, "stopped");
  });

  test("the admin key starts a flow for a user it authenticated", async () => {
    const { id } = await newUser();
    const session = await admin().flows.start({ user: { id } });
    assert.equal(session.flow.user_id, id);
    assert.ok(["totp_setup", "totp_verify"].includes(session.flow.state));
    assert.equal(typeof session.token, "string");
  });
});
