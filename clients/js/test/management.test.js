// The Management and audit calls the console makes, through the SDK, against a real server.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ApiError, MfaFlowClient, verifyChain } from "../src/index.js";
import { AUDITOR_KEY, BASE_URL, admin, anonymous, uniqueName, until } from "./support.js";

describe("the Management API", () => {
  test("configuration is read and written", async () => {
    const written = await admin().config.put({ factors: ["totp", "backup_code"], policy: "mandatory" });
    assert.deepEqual(written.factors, ["totp", "backup_code"]);
    assert.equal((await admin().config.get()).policy, "mandatory");
  });

  test("a user is created, found, changed, given a factor, and deleted", async () => {
    const client = admin();
    const username = uniqueName("managed");
    const user = await client.users.create({ username, password: "a long enough password", email: `${username}@example.com` });
    const found = await client.users.list({ search: username.slice(0, 12) });
    assert.ok(found.items.some((u) => u.id === user.id));
    const changed = await client.users.update(user.id, { mfa: { required: true } });
    assert.equal(changed.mfa.required, true);
    const totp = await client.users.addFactor(user.id, { type: "totp" });
    assert.match(/** @type {string} */ (totp.otpauth_uri), /^otpauth:\/\/totp\//);
    assert.deepEqual((await client.users.factors(user.id)).map((f) => f.type), ["totp"]);
    await client.users.removeFactor(user.id, totp.id);
    assert.deepEqual(await client.users.factors(user.id), []);
    assert.deepEqual(await client.users.trustedDevices(user.id), []);
    await client.users.delete(user.id);
    const gone = await client.users.get(user.id).catch((error) => error);
    assert.ok(gone instanceof ApiError && gone.status === 404 && gone.kind === "not-found");
  });

  test("an organisation is created, renamed, given a member, and deleted", async () => {
    const client = admin();
    const user = await client.users.create({ username: uniqueName("member") });
    const org = await client.organizations.create({ name: uniqueName("Acme"), require_mfa: true });
    assert.equal(org.require_mfa, true);
    const taken = await client.organizations.create({ name: org.name.toUpperCase() }).catch((error) => error);
    assert.ok(taken instanceof ApiError && taken.status === 409 && taken.kind === "organization-exists");
    const renamed = await client.organizations.update(org.id, { name: `${org.name} Ltd` });
    assert.equal((await client.organizations.get(org.id)).name, renamed.name);
    assert.deepEqual(await client.organizations.addMember(org.id, user.id), { organization_id: org.id, user_id: user.id });
    assert.deepEqual((await client.organizations.members(org.id)).items.map((u) => u.id), [user.id]);
    assert.deepEqual((await client.users.get(user.id)).organizations, [{ id: org.id, name: renamed.name }]);
    await client.organizations.removeMember(org.id, user.id);
    await client.organizations.delete(org.id);
    const gone = await client.organizations.get(org.id).catch((error) => error);
    assert.ok(gone instanceof ApiError && gone.status === 404);
    assert.ok((await client.organizations.list({ limit: 200 })).items.every((o) => o.id !== org.id));
  });

  test("a key that may not manage is told so in a problem document", async () => {
    const auditor = new MfaFlowClient({ baseUrl: BASE_URL, token: AUDITOR_KEY });
    const refused = await auditor.config.put({ factors: [], policy: "mandatory" }).catch((error) => error);
    assert.ok(refused instanceof ApiError);
    assert.equal(refused.status, 403);
    assert.ok(refused.problem.detail.length > 0);
    assert.equal((await auditor.whoami()).role, "auditor");
  });
});

describe("the audit API", () => {
  test("a flow's transitions form a chain that verifies here, and the export iterates the whole log", async () => {
    const client = admin();
    const session = await client.flows.start({ user: { id: uniqueName("audited") } });
    await client.flows.send(session.id, { type: "cancel" }).catch(() => null); // done already, or cancelled now
    const rows = await client.flows.transitions(session.id);
    const check = await verifyChain(rows);
    assert.equal(check.ok, true);
    const tampered = rows.map((row, i) => (i === 0 ? { ...row, actor: "someone else" } : row));
    assert.deepEqual(await verifyChain(tampered), { ok: false, seq: rows[0].seq, reason: "its hash does not match its contents" });

    /** @type {Array<Record<string, any>>} */
    const exported = [];
    await until(async () => {
      exported.length = 0;
      for await (const row of client.audit.transitions({ pageSize: 2 })) exported.push(row);
      return exported.some((row) => row.flow_id === session.id);
    }, "the flow's rows to settle in the log");
    const cursors = exported.map((row) => row.cursor);
    assert.equal(new Set(cursors).size, cursors.length, "each row once, across pages");
  });

  test("every flow's changes stream to the console, opened before the list is read", async () => {
    const client = admin();
    const controller = new AbortController();
    /** @type {string[]} */
    const seen = [];
    let opened = false;
    const watching = client.flows.watchAll({
      signal: controller.signal,
      onOpen: () => { opened = true; },
      onFlow: (flow) => seen.push(flow.id),
    }).catch((error) => { if (error.name !== "AbortError") throw error; });
    await until(() => opened, "the stream to open");
    const session = await anonymous().flows.start();
    await until(() => seen.includes(session.id), "the new flow on the stream");
    controller.abort();
    await watching;
  });
});
