// What the tests share: the server under test (started by tests/clients/test_js_sdk.py, which
// passes its address and keys in the environment), TOTP codes from oathtool (an independent
// RFC 6238 implementation), and condition-based waits.

import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";

import { MfaFlowClient } from "../src/index.js";

export const BASE_URL = process.env.MFA_FLOW_TEST_URL || "";
export const ADMIN_KEY = process.env.MFA_FLOW_TEST_ADMIN_KEY || "";
export const AUDITOR_KEY = process.env.MFA_FLOW_TEST_AUDITOR_KEY || "";
if (!BASE_URL) throw new Error("MFA_FLOW_TEST_URL is not set: run these tests through pytest (tests/clients/test_js_sdk.py)");

export const admin = () => new MfaFlowClient({ baseUrl: BASE_URL, token: ADMIN_KEY });
export const anonymous = (options = {}) => new MfaFlowClient({ baseUrl: BASE_URL, ...options });

/** A user name no other test uses. */
export const uniqueName = (/** @type {string} */ prefix) => `${prefix}-${randomUUID().slice(0, 8)}`;

/**
 * The TOTP code of `secret` for a time-step no other call of this process used (the server
 * refuses a replayed step), read away from a step boundary.
 * @param {string} secret
 */
export async function totpCode(secret) {
  for (;;) {
    const now = Date.now() / 1000;
    const into = now % 30;
    if (into > 1.5 && into < 28.5) {
      const step = Math.floor(now / 30);
      const spent = usedSteps.get(secret) || new Set();
      const free = [step, step + 1].find((s) => !spent.has(s));
      if (free !== undefined) {
        spent.add(free);
        usedSteps.set(secret, spent);
        return execFileSync("oathtool", ["--totp", "-b", `--now=@${free * 30 + 1}`, secret], { encoding: "utf8" }).trim();
      }
    }
    await sleep(500);
  }
}
/** @type {Map<string, Set<number>>} */
const usedSteps = new Map();

export const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `check` returns something truthy (or throws after `seconds`).
 * @template T
 * @param {() => T | Promise<T>} check
 * @param {string} what
 * @param {number} [seconds]
 * @returns {Promise<NonNullable<T>>}
 */
export async function until(check, what, seconds = 20) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await check();
    if (value) return /** @type {NonNullable<T>} */ (value);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The MFA configuration every test of a file starts from. */
export async function configure(/** @type {any} */ config) {
  await admin().config.put(config);
}
