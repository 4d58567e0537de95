// The HTTP side of the client: one request function (JSON in and out, problems as ApiError)
// and the API's groups on top of it — flows, the Management API (configuration, users and
// their factors, organisations, webhooks) and the audit API. Works in browsers and in Node 20 (global fetch).

import { verifyChain } from "./audit.js";
import { ApiError } from "./errors.js";
import { FlowSession } from "./flow.js";
import { OPERATIONS, pathOf } from "./operations.js";
import { readEventStream } from "./streams.js";

/**
 * @typedef {import("./openapi.js").components["schemas"]} Schemas
 * @typedef {Schemas["Flow"]} Flow
 * @typedef {Schemas["Transition"]} Transition
 * @typedef {Schemas["CreateFlow"]} CreateFlow
 * @typedef {Schemas["Event"]} Event
 * @typedef {Schemas["MfaConfig"]} MfaConfig
 * @typedef {Schemas["User"]} User
 * @typedef {Schemas["NewUser"]} NewUser
 * @typedef {Schemas["UserPatch"]} UserPatch
 * @typedef {Schemas["UserPage"]} UserPage
 * @typedef {Schemas["Verification"]} Verification
 * @typedef {Schemas["NewVerification"]} NewVerification
 * @typedef {Schemas["CreatedVerification"]} CreatedVerification
 * @typedef {Schemas["TrustedDevice"]} TrustedDevice
 * @typedef {Schemas["SignInPage"]} SignInPage
 * @typedef {Schemas["Webhook"]} Webhook
 * @typedef {Schemas["NewWebhook"]} NewWebhook
 * @typedef {Schemas["WebhookPatch"]} WebhookPatch
 * @typedef {Schemas["WebhookWithSecret"]} WebhookWithSecret
 * @typedef {Schemas["WebhookDeliveryPage"]} WebhookDeliveryPage
 * @typedef {Schemas["CheckpointPage"]} CheckpointPage
 * @typedef {Schemas["TransparencyLog"]} TransparencyLog
 * @typedef {Schemas["InclusionProof"]} InclusionProof
 * @typedef {Schemas["ConsistencyProof"]} ConsistencyProof
 * @typedef {Schemas["Jwks"]} Jwks
 * @typedef {Schemas["OidcClient"]} OidcClient
 * @typedef {Schemas["OidcClientWithSecret"]} OidcClientWithSecret
 * @typedef {Schemas["OidcClientList"]} OidcClientList
 * @typedef {Schemas["NewOidcClient"]} NewOidcClient
 * @typedef {Schemas["OidcClientPatch"]} OidcClientPatch
 * @typedef {Schemas["Organization"]} Organization
 * @typedef {Schemas["NewOrganization"]} NewOrganization
 * @typedef {Schemas["OrganizationPatch"]} OrganizationPatch
 * @typedef {Schemas["OrganizationPage"]} OrganizationPage
 * @typedef {Schemas["OrganizationMembership"]} OrganizationMembership
 * @typedef {Schemas["AuthorizationOfFlow"]} AuthorizationOfFlow
 * @typedef {Schemas["ReturnToClient"]} ReturnToClient
 * @typedef {{items: Flow[], next?: string | null}} FlowPage
 * @typedef {Record<string, string | number | boolean | null | undefined>} Query
 *
 * @typedef {object} RequestOptions
 * @property {any} [body] sent as JSON
 * @property {string | null} [token] a bearer token for this request instead of the client's
 * @property {Record<string, string>} [headers]
 * @property {Query} [query] added to the path; null and undefined values are left out
 * @property {AbortSignal} [signal]
 *
 * @typedef {object} ClientOptions
 * @property {string} [baseUrl] the service's address; "" (the default) is the page's own origin
 * @property {string | null} [token] the bearer token of every request: the admin or auditor key
 *   (a flow's own token is kept by its FlowSession)
 * @property {typeof fetch} [fetch] another fetch (tests, a proxy); the global one by default
 * @property {Record<string, string>} [headers] sent with every request (a page sends its
 *   language as Accept-Language: the codes of the flows it starts are written in it)
 * @property {any} [WebSocket] the WebSocket class; the global one by default (Node 20 has none
 *   unless started with --experimental-websocket: flows then follow by long-polling)
 */

/**
 * @param {string} path
 * @param {Query} [query]
 */
export function withQuery(path, query = {}) {
  const pairs = Object.entries(query).filter(([, value]) => value !== undefined && value !== null);
  if (!pairs.length) return path;
  return `${path}?${new URLSearchParams(pairs.map(([key, value]) => [key, String(value)]))}`;
}

export class MfaFlowClient {
  /** @param {ClientOptions} [options] */
  constructor({ baseUrl = "", token = null, fetch: fetchImpl, WebSocket: socketClass, headers = {} } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.token = token;
    this.headers = headers;
    this.fetchImpl = fetchImpl || globalThis.fetch.bind(globalThis);
    /** @type {any} */
    this.WebSocket = socketClass === undefined ? globalThis.WebSocket : socketClass;
    this.flows = new Flows(this);
    this.config = new Config(this);
    this.users = new Users(this);
    this.organizations = new Organizations(this);
    this.webhooks = new Webhooks(this);
    this.oidcClients = new OidcClients(this);
    this.authorizations = new Authorizations(this);
    this.audit = new Audit(this);
    /** @type {any} the server's OpenAPI document, once openapi() has read it */
    this.document = null;
  }

  /**
   * One operation by name, its path parameters filled in: the answer's JSON.
   * @param {import("./operations.js").Operation} operation
   * @param {Record<string, string | number>} [params]
   * @param {RequestOptions} [options]
   * @returns {Promise<any>}
   */
  call(operation, params = {}, options = {}) {
    return this.request(OPERATIONS[operation][0], pathOf(operation, params), options);
  }

  /**
   * Whether the server has an operation, by its OpenAPI document (read with openapi() first;
   * false before). A page in front of an older release leaves out what it lacks.
   * @param {import("./operations.js").Operation} operation
   */
  supports(operation) {
    const [method, path] = OPERATIONS[operation];
    return Boolean(this.document && this.document.paths[path] && this.document.paths[path][method.toLowerCase()]);
  }

  /** The absolute URL of a path (a relative base is resolved against the page's address). */
  url(/** @type {string} */ path) {
    const base = this.baseUrl || (typeof location !== "undefined" ? location.origin : "");
    if (!base) throw new TypeError("baseUrl is required outside a browser page");
    return new URL(base + path, typeof location !== "undefined" ? location.href : undefined).toString();
  }

  /**
   * The raw response of one request, after the problem check (a non-2xx answer throws ApiError).
   * @param {string} method
   * @param {string} path
   * @param {RequestOptions} [options]
   * @returns {Promise<Response>}
   */
  async fetch(method, path, { body, token, headers = {}, query, signal } = {}) {
    const bearer = token === undefined ? this.token : token;
    const response = await this.fetchImpl(this.baseUrl + withQuery(path, query), {
      method,
      headers: {
        ...this.headers,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    if (!response.ok && response.status !== 304) throw await problemOf(response);
    return response;
  }

  /**
   * One request, its JSON answer (null for 204 and 304).
   * @param {string} method
   * @param {string} path
   * @param {RequestOptions} [options]
   * @returns {Promise<any>}
   */
  async request(method, path, options = {}) {
    const response = await this.fetch(method, path, options);
    if (response.status === 204 || response.status === 304) return null;
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  /** Which key this client holds: {"role": "admin" | "auditor" | …}. */
  whoami() { return this.call("whoami"); }

  /** The factor catalogue, words in the page's language: {items: [{name, kind, amr, enabled, title, hint}]}. @param {string} [lang] */
  factorCatalogue(lang) { return this.call("factors", {}, { token: null, query: { lang } }); }

  /** What a sign-in page may offer before a flow exists: {passkey_sign_in, sign_up}. */
  signInOptions() { return this.call("signInOptions", {}, { token: null }); }

  /** The OpenAPI document the service serves (what this server offers). */
  async openapi() {
    this.document = await this.call("openapi", {}, { token: null });
    return this.document;
  }

  /** @returns {Promise<Jwks>} the keys that verify result tokens and ID tokens */
  jwks() { return this.call("jwks", {}, { token: null }); }

  /** The OpenID Provider's metadata (OpenID Connect Discovery), which OIDC libraries read. */
  openidConfiguration() { return this.call("openidConfiguration", {}, { token: null }); }

  /** The address of the discovery document, for an app's OIDC library. */
  discoveryUrl() { return this.url(pathOf("openidConfiguration")); }
}

/** @param {Response} response */
async function problemOf(response) {
  const text = await response.text();
  /** @type {any} */
  let problem;
  try { problem = text ? JSON.parse(text) : {}; } catch { problem = { detail: text.slice(0, 200) }; }
  if (!problem || typeof problem !== "object") problem = { detail: String(problem) };
  const retry = Number(response.headers.get("Retry-After")) || problem.retry_after || null;
  return new ApiError(response.status, problem, retry);
}

// --- flows -----------------------------------------------------------------------------------

class Flows {
  /** @param {MfaFlowClient} client */
  constructor(client) { this.client = client; }

  /**
   * Starts a flow: anyone with {} (a sign-in from its first factor), the admin key with
   * {user: {id}} (the first factor asserted), or {purpose: "manage", subject_token} (an account
   * flow). The session holds the flow's token, drives the flow and follows it.
   * @param {CreateFlow & Record<string, any>} [body]
   * @returns {Promise<FlowSession>}
   */
  async start(body = {}) {
    const created = await this.client.call("flows.start", {}, { body });
    return new FlowSession(this.client, created.flow, created.flow_token);
  }

  /**
   * A session for a flow created elsewhere (its id and token kept by the page, say).
   * @param {string} flowId
   * @param {string} token
   */
  async resume(flowId, token) {
    const flow = await this.get(flowId, { token });
    return new FlowSession(this.client, /** @type {Flow} */ (flow), token);
  }

  /**
   * A flow. With `wait`, long-polls up to that many seconds for a version newer than
   * `newerThan` and answers null when none came.
   * @param {string} flowId
   * @param {{token?: string | null, wait?: number, newerThan?: number, signal?: AbortSignal}} [options]
   * @returns {Promise<Flow | null>}
   */
  get(flowId, { token, wait, newerThan, signal } = {}) {
    /** @type {Record<string, string>} */
    const headers = newerThan === undefined || newerThan < 0 ? {} : { "If-None-Match": `"${newerThan}"` };
    return this.client.call("flows.get", { flow_id: flowId }, { token, headers, query: { wait }, signal });
  }

  /**
   * Sends one event. `expectedVersion` refuses it (409 version-mismatch) when the flow has
   * moved on since that version.
   * @param {string} flowId
   * @param {Event | Record<string, any>} event
   * @param {{token?: string | null, expectedVersion?: number | null}} [options]
   * @returns {Promise<Flow>}
   */
  send(flowId, event, { token, expectedVersion = null } = {}) {
    const body = expectedVersion === null ? event : { ...event, expected_version: expectedVersion };
    return this.client.call("flows.send", { flow_id: flowId }, { token, body });
  }

  /**
   * Recent flows, newest first (admin, auditor): `before` a flow id for the next page, `state`
   * and `user_id` to filter.
   * @param {{limit?: number, before?: string, state?: string, user_id?: string}} [query]
   * @returns {Promise<FlowPage>}
   */
  list(query = {}) { return this.client.call("flows.list", {}, { query }); }

  /**
   * A flow's transition log (admin, auditor); `verified` also checks its hash chain here.
   * @param {string} flowId
   * @returns {Promise<Transition[]>}
   */
  transitions(flowId) { return this.client.call("flows.transitions", { flow_id: flowId }); }

  /**
   * Follows every flow as it is created or moves (admin, auditor), until `signal` aborts or the
   * stream ends: onOpen once the server subscribed (read the list then: nothing is missed in
   * between), onFlow per change, onResync when changes were dropped (read the list again).
   * The key goes in a header, not in the URL (the stream is read with fetch).
   * @param {{onFlow: (flow: Flow) => void, onOpen?: () => (void | Promise<void>), onResync?: () => void,
   *   signal?: AbortSignal}} handlers
   */
  async watchAll({ onFlow, onOpen, onResync, signal }) {
    const response = await this.client.fetch("GET", pathOf("flows.watchAll"), { headers: { Accept: "text/event-stream" }, signal });
    if (onOpen) await onOpen();
    for await (const { event, data } of readEventStream(/** @type {ReadableStream<Uint8Array>} */ (response.body))) {
      if (event === "flow") onFlow(JSON.parse(data));
      else if (event === "resync" && onResync) onResync();
    }
  }

  /**
   * A flow's transitions with their hash chain checked in this process.
   * @param {string} flowId
   */
  async verifiedTransitions(flowId) {
    const rows = await this.transitions(flowId);
    return { rows, check: await verifyChain(rows) };
  }
}

// --- the Management API (admin key) ----------------------------------------------------------

class Config {
  /** @param {MfaFlowClient} client */
  constructor(client) { this.client = client; }

  /** @returns {Promise<MfaConfig>} */
  get() { return this.client.call("config.get"); }

  /**
   * @param {MfaConfig} config
   * @returns {Promise<MfaConfig>}
   */
  put(config) { return this.client.call("config.put", {}, { body: config }); }
}

class Users {
  /** @param {MfaFlowClient} client */
  constructor(client) { this.client = client; }

  /**
   * @param {{search?: string, after?: string, limit?: number}} [query]
   * @returns {Promise<UserPage>}
   */
  list(query = {}) { return this.client.call("users.list", {}, { query }); }

  /** @param {string} userId @returns {Promise<User>} */
  get(userId) { return this.client.call("users.get", { user_id: userId }); }

  /** @param {NewUser} user @returns {Promise<User>} */
  create(user) { return this.client.call("users.create", {}, { body: user }); }

  /** @param {string} userId @param {UserPatch} patch @returns {Promise<User>} */
  update(userId, patch) { return this.client.call("users.update", { user_id: userId }, { body: patch }); }

  /** @param {string} userId @returns {Promise<null>} */
  delete(userId) { return this.client.call("users.delete", { user_id: userId }); }

  /** Ends a lockout. @param {string} userId @returns {Promise<User>} */
  unlock(userId) { return this.client.call("users.unlock", { user_id: userId }); }

  /** Removes every factor and device, and clears the prompted mark. @param {string} userId @returns {Promise<User>} */
  resetMfa(userId) { return this.client.call("users.resetMfa", { user_id: userId }); }

  /** The user's factors. @param {string} userId @returns {Promise<Verification[]>} */
  factors(userId) { return this.client.call("users.factors", { user_id: userId }); }

  /**
   * @param {string} userId
   * @param {NewVerification} factor
   * @returns {Promise<CreatedVerification>}
   */
  addFactor(userId, factor) {
    return this.client.call("users.addFactor", { user_id: userId }, { body: factor });
  }

  /** Renames a passkey. @param {string} userId @param {string} verificationId @param {string} name @returns {Promise<Verification>} */
  renameFactor(userId, verificationId, name) {
    return this.client.call("users.renameFactor", { user_id: userId, verification_id: verificationId }, { body: { name } });
  }

  /** @param {string} userId @param {string} verificationId @returns {Promise<null>} */
  removeFactor(userId, verificationId) {
    return this.client.call("users.removeFactor", { user_id: userId, verification_id: verificationId });
  }

  /**
   * The user's successful sign-ins, newest first, one page (`after`: the previous page's `next`).
   * @param {string} userId @param {{after?: string, limit?: number}} [query] @returns {Promise<SignInPage>}
   */
  signIns(userId, query = {}) { return this.client.call("users.signIns", { user_id: userId }, { query }); }

  /** @param {string} userId @returns {Promise<TrustedDevice[]>} */
  async trustedDevices(userId) {
    const answer = await this.client.call("users.trustedDevices", { user_id: userId });
    return Array.isArray(answer) ? answer : answer.items;
  }

  /**
   * Revokes one remembered device, or all of them without `deviceId`.
   * @param {string} userId
   * @param {string} [deviceId]
   * @returns {Promise<null>}
   */
  revokeTrustedDevices(userId, deviceId) {
    return deviceId
      ? this.client.call("users.revokeTrustedDevice", { user_id: userId, device_id: deviceId })
      : this.client.call("users.revokeTrustedDevices", { user_id: userId });
  }
}

/** Groups of users; a member of one with `require_mfa` uses MFA at every sign-in. */
class Organizations {
  /** @param {MfaFlowClient} client */
  constructor(client) { this.client = client; }

  /**
   * One page, oldest first.
   * @param {{after?: string, limit?: number}} [query]
   * @returns {Promise<OrganizationPage>}
   */
  list(query = {}) { return this.client.call("organizations.list", {}, { query }); }

  /** @param {string} organizationId @returns {Promise<Organization>} */
  get(organizationId) { return this.client.call("organizations.get", { organization_id: organizationId }); }

  /** A taken name (whatever its case) is a 409. @param {NewOrganization} organization @returns {Promise<Organization>} */
  create(organization) { return this.client.call("organizations.create", {}, { body: organization }); }

  /** Renames it, or turns `require_mfa` on or off. @param {string} organizationId @param {OrganizationPatch} patch @returns {Promise<Organization>} */
  update(organizationId, patch) {
    return this.client.call("organizations.update", { organization_id: organizationId }, { body: patch });
  }

  /** Its members leave it. @param {string} organizationId @returns {Promise<null>} */
  delete(organizationId) { return this.client.call("organizations.delete", { organization_id: organizationId }); }

  /**
   * One page of its members (users), ordered by username.
   * @param {string} organizationId
   * @param {{after?: string, limit?: number}} [query]
   * @returns {Promise<UserPage>}
   */
  members(organizationId, query = {}) {
    return this.client.call("organizations.members", { organization_id: organizationId }, { query });
  }

  /** @param {string} organizationId @param {string} userId @returns {Promise<OrganizationMembership>} */
  addMember(organizationId, userId) {
    return this.client.call("organizations.addMember", { organization_id: organizationId, user_id: userId });
  }

  /** @param {string} organizationId @param {string} userId @returns {Promise<null>} */
  removeMember(organizationId, userId) {
    return this.client.call("organizations.removeMember", { organization_id: organizationId, user_id: userId });
  }
}

class Webhooks {
  /** @param {MfaFlowClient} client */
  constructor(client) { this.client = client; }

  /** @returns {Promise<Webhook[]>} */
  list() { return this.client.call("webhooks.list"); }

  /** @param {string} webhookId @returns {Promise<Webhook>} */
  get(webhookId) { return this.client.call("webhooks.get", { webhook_id: webhookId }); }

  /** The answer holds the signing secret, once. @param {NewWebhook} webhook @returns {Promise<WebhookWithSecret>} */
  create(webhook) { return this.client.call("webhooks.create", {}, { body: webhook }); }

  /** @param {string} webhookId @param {WebhookPatch} patch @returns {Promise<Webhook>} */
  update(webhookId, patch) { return this.client.call("webhooks.update", { webhook_id: webhookId }, { body: patch }); }

  /** @param {string} webhookId @returns {Promise<null>} */
  delete(webhookId) { return this.client.call("webhooks.delete", { webhook_id: webhookId }); }

  /** A new secret (shown once); the old one keeps signing for a while. @param {string} webhookId @returns {Promise<WebhookWithSecret>} */
  rotateSecret(webhookId) { return this.client.call("webhooks.rotateSecret", { webhook_id: webhookId }); }

  /**
   * @param {string} webhookId
   * @param {{limit?: number, after?: string}} [query]
   * @returns {Promise<WebhookDeliveryPage>}
   */
  deliveries(webhookId, query = {}) {
    return this.client.call("webhooks.deliveries", { webhook_id: webhookId }, { query });
  }

  /** @param {string} webhookId @param {string | number} deliveryId */
  retry(webhookId, deliveryId) {
    return this.client.call("webhooks.retry", { webhook_id: webhookId, delivery_id: deliveryId });
  }
}

// --- OpenID Connect ---------------------------------------------------------------------------

class OidcClients {
  /** @param {MfaFlowClient} client */
  constructor(client) { this.client = client; }

  /** The registered apps (admin). @returns {Promise<OidcClientList>} */
  list() { return this.client.call("oidcClients.list"); }

  /** @param {string} clientId @returns {Promise<OidcClient>} */
  get(clientId) { return this.client.call("oidcClients.get", { client_id: clientId }); }

  /** The answer holds the client secret, once. @param {NewOidcClient} app @returns {Promise<OidcClientWithSecret>} */
  create(app) { return this.client.call("oidcClients.create", {}, { body: app }); }

  /** @param {string} clientId @param {OidcClientPatch} patch @returns {Promise<OidcClientWithSecret>} */
  update(clientId, patch) { return this.client.call("oidcClients.update", { client_id: clientId }, { body: patch }); }

  /** @param {string} clientId @returns {Promise<null>} */
  delete(clientId) { return this.client.call("oidcClients.delete", { client_id: clientId }); }

  /** A new secret (shown once); the old one keeps working for a while. @param {string} clientId @returns {Promise<OidcClientWithSecret>} */
  rotateSecret(clientId) { return this.client.call("oidcClients.rotateSecret", { client_id: clientId }); }
}

/** The authorization an OpenID Connect request started, as its flow's holder sees it. */
class Authorizations {
  /** @param {MfaFlowClient} client */
  constructor(client) { this.client = client; }

  /**
   * Which app the flow's authorization is for.
   * @param {string} flowId @param {{token?: string | null}} [options] @returns {Promise<AuthorizationOfFlow>}
   */
  get(flowId, { token } = {}) { return this.client.call("authorizations.get", { flow_id: flowId }, { token }); }

  /**
   * Once the flow has ended: where the browser goes back to (a code, or an error, for the app).
   * @param {string} flowId @param {{token?: string | null}} [options] @returns {Promise<ReturnToClient>}
   */
  returnToClient(flowId, { token } = {}) {
    return this.client.call("authorizations.returnToClient", { flow_id: flowId }, { token });
  }
}

// --- the audit API (admin, auditor) ----------------------------------------------------------

class Audit {
  /** @param {MfaFlowClient} client */
  constructor(client) { this.client = client; }

  /**
   * Every transition in the log's global order, from `after` (a cursor; the start by default),
   * page by page, as long as the log has settled rows. Resume later from the last row's cursor.
   * @param {{after?: string, pageSize?: number, signal?: AbortSignal}} [options]
   * @returns {AsyncGenerator<Transition & {cursor: string}>}
   */
  async *transitions({ after = "0", pageSize = 1000, signal } = {}) {
    let cursor = after;
    for (;;) {
      const response = await this.client.fetch("GET", pathOf("audit.transitions"), { query: { after: cursor, limit: pageSize }, signal });
      const lines = (await response.text()).split("\n").filter(Boolean);
      for (const line of lines) yield JSON.parse(line);
      cursor = response.headers.get("Next-Cursor") || cursor;
      if (lines.length < pageSize) return;
    }
  }

  /** @param {{after?: number, limit?: number}} [query] @returns {Promise<CheckpointPage>} */
  checkpoints(query = {}) { return this.client.call("audit.checkpoints", {}, { query }); }

  /** The origin, the verifier key and the latest signed tree head. @returns {Promise<TransparencyLog>} */
  log() { return this.client.call("audit.log"); }

  /** @param {string} cursor @param {number} [treeSize] @returns {Promise<InclusionProof>} */
  inclusionProof(cursor, treeSize) {
    return this.client.call("audit.inclusionProof", {}, { query: { cursor, tree_size: treeSize } });
  }

  /** @param {number} first @param {number} second @returns {Promise<ConsistencyProof>} */
  consistencyProof(first, second) {
    return this.client.call("audit.consistencyProof", {}, { query: { first, second } });
  }
}
