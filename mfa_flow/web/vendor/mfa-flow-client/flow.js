// One flow, driven and followed: its events go over the flow's WebSocket while it is open (the
// answer is an ack or an error message) and by POST otherwise; its changes arrive over the
// WebSocket, or by long-polling GET ?wait= where no WebSocket can be opened (a proxy that drops
// upgrades, a runtime without WebSocket). Every rule lives on the server: this only carries.

import { pathOf } from "./operations.js";
import { ApiError, ConnectionError } from "./errors.js";
import { credentialFor } from "./webauthn.js";

/**
 * @typedef {import("./openapi.js").components["schemas"]["Flow"]} Flow
 * @typedef {import("./openapi.js").components["schemas"]["Event"]} Event
 * @typedef {"websocket" | "long-poll" | "stopped"} Transport
 * @typedef {object} FollowOptions
 * @property {(transport: Transport) => void} [onTransport] told which way changes arrive
 * @property {(error: Error) => void} [onError] the server refused to be followed (a revoked or
 *   wrong token, say): following has stopped
 * @property {number} [wait] seconds each long-poll waits (the server allows up to 60)
 */

export const TERMINAL_STATES = Object.freeze(["done", "failed", "expired", "cancelled"]);

/** @param {string} state */
export const isTerminal = (state) => TERMINAL_STATES.includes(state);

const RECONNECTS = 3; // an opened socket that drops is reopened this many times before long-polling
const POLL_RETRY_MS = 2000;

export class FlowSession {
  /**
   * @param {import("./client.js").MfaFlowClient} client
   * @param {Flow} flow the flow as last seen
   * @param {string | null} token the flow token (null: the client's own key drives it)
   */
  constructor(client, flow, token) {
    this.client = client;
    this.token = token;
    /** The newest version of the flow seen so far. */
    this.flow = flow;
    /** @type {Set<(flow: Flow) => void>} */
    this.listeners = new Set();
    /** @type {Map<string, {resolve: (flow: Flow | null) => void, reject: (error: Error) => void}>} */
    this.pending = new Map();
    this.sequence = 0;
    this.failures = 0;
    this.following = false;
    this.stopped = false;
    /** @type {any} */
    this.socket = null;
    /** @type {Transport} */
    this.transport = "stopped";
    /** @type {FollowOptions} */
    this.options = {};
    /** @type {(transport: Transport) => void} */
    let settle = () => {};
    /**
     * Settles once following has a way to go (resolves "websocket" once the socket is open,
     * "long-poll" once polling starts): an event sent after it goes over the socket when there
     * is one. A page that creates a flow to carry an event waits for it (briefly).
     * @type {Promise<Transport>}
     */
    this.connected = new Promise((resolve) => { settle = resolve; });
    this.settleConnected = settle;
  }

  get id() { return this.flow.id; }

  get version() { return this.flow.version; }

  /**
   * Calls `listener` with each newer version of the flow, however it arrived (an answer to
   * send, the live stream, refresh). Returns a function that unsubscribes.
   * @param {(flow: Flow) => void} listener
   */
  subscribe(listener) {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /**
   * Takes a version of the flow: kept, and passed to the listeners, when newer than the last.
   * @param {Flow | null | undefined} flow
   */
  offer(flow) {
    if (!flow || flow.version <= this.flow.version) return;
    this.flow = flow;
    for (const listener of [...this.listeners]) listener(flow);
    if (isTerminal(flow.state)) this.stop();
  }

  /**
   * Sends one event and returns the flow it led to (also passed to the listeners). It carries
   * `expected_version`, by default the version this session last saw: an event meant for a flow
   * that has moved on meanwhile (another tab) is refused with 409 rather than applied to it.
   * @param {Event | Record<string, any>} event
   * @param {{expectedVersion?: number | null}} [options] null sends no expected_version
   * @returns {Promise<Flow | null>} null when the flow ended before the answer came
   */
  async send(event, { expectedVersion = this.flow.version } = {}) {
    const body = expectedVersion === null || expectedVersion === undefined ? event : { ...event, expected_version: expectedVersion };
    const socket = this.socket;
    /** @type {Flow | null} */
    let flow;
    if (socket && socket.readyState === 1 /* OPEN */) {
      const id = `e${++this.sequence}`;
      flow = await new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        socket.send(JSON.stringify({ type: "event", id, event: body }));
      });
    } else {
      flow = await this.client.flows.send(this.flow.id, body, { token: this.token });
    }
    this.offer(flow);
    return flow;
  }

  /** Reads the flow now (after a refused event, say: a wrong code still counts an attempt). */
  async refresh() {
    const flow = await this.client.flows.get(this.flow.id, { token: this.token });
    this.offer(flow);
    return this.flow;
  }

  /**
   * Runs the passkey ceremony the flow's challenge asks for — creating a credential in a set-up
   * state, using one in a verification, or a passkey sign-in from the first factor — and sends
   * the browser's answer. Errors of the ceremony itself are the browser's DOMExceptions
   * (NotAllowedError when the person cancelled or it timed out, InvalidStateError when this
   * authenticator already holds a credential for the user).
   * @param {Record<string, any>} [extra] more of the event: {remember_device: true}
   * @param {{signal?: AbortSignal}} [options]
   */
  async passkey(extra = {}, { signal } = {}) {
    /** @type {any} */
    const challenge = this.flow.challenge || {};
    const signIn = this.flow.state === "first_factor" && challenge.passkey;
    const publicKey = signIn ? challenge.passkey.publicKey : challenge.publicKey;
    if (!publicKey) throw new TypeError(`the flow asks for no passkey in state ${this.flow.state}`);
    const credential = await credentialFor(publicKey, { signal });
    return this.send({ type: signIn ? "submit_passkey" : "submit_webauthn", credential, ...extra });
  }

  /**
   * Follows the flow live until it ends or stop() is called: the WebSocket first; long-polling
   * where none can be opened, or once an opened one keeps dropping.
   * @param {FollowOptions} [options]
   */
  follow(options = {}) {
    this.options = options;
    if (this.following || isTerminal(this.flow.state)) return this;
    this.following = true;
    this.stopped = false;
    if (this.client.WebSocket) this.openSocket(); else this.poll();
    return this;
  }

  /** Stops following (an event still awaited on the socket is answered before it closes). */
  stop() {
    this.stopped = true;
    this.following = false;
    const socket = this.socket;
    if (socket && socket.readyState <= 1 && !this.pending.size) socket.close(1000);
    this.setTransport("stopped");
  }

  // --- the ways changes arrive ----------------------------------------------------------------

  /** @param {Transport} transport */
  setTransport(transport) {
    if (this.transport === transport) return;
    this.transport = transport;
    this.settleConnected(transport);
    if (this.options.onTransport) this.options.onTransport(transport);
  }

  /** @param {Error} error */
  fail(error) {
    this.stop();
    if (this.options.onError) this.options.onError(error);
  }

  openSocket() {
    const url = new URL(this.client.url(pathOf("flows.socket", { flow_id: this.flow.id })));
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const bearer = this.token || this.client.token;
    if (bearer) url.searchParams.set("token", bearer); // browsers cannot set headers on a WebSocket
    let opened = false;
    const socket = new this.client.WebSocket(url.toString());
    this.socket = socket;
    socket.addEventListener("open", () => {
      opened = true;
      this.failures = 0;
      this.setTransport("websocket");
    });
    socket.addEventListener("message", (/** @type {MessageEvent} */ message) => {
      const data = JSON.parse(String(message.data));
      if (data.type === "flow") this.offer(data.flow);
      else if (data.type === "ack" || data.type === "error") this.answered(data);
    });
    socket.addEventListener("close", (/** @type {CloseEvent} */ closed) => {
      if (this.socket === socket) this.socket = null;
      // After the final state the server closes the socket; an answer still awaited is moot.
      for (const { resolve, reject } of this.pending.values()) {
        if (this.stopped) resolve(null); else reject(new ConnectionError("the connection closed before the answer came; try again"));
      }
      this.pending.clear();
      if (this.stopped || closed.code === 1000) return;
      if (closed.code >= 4000 && closed.code !== 4429) {
        // A refusal: 4000 + the HTTP status, the reason in words (browsers hide a refused
        // handshake's status, so the server accepts and closes).
        const status = closed.code - 4000;
        this.fail(new ApiError(status, { type: "", title: "", status, detail: closed.reason || `refused (${status})` }));
        return;
      }
      // 1001: this server is shutting down and another answers; 4429: too many followers now.
      if (!opened || ++this.failures > RECONNECTS) this.poll();
      else setTimeout(() => { if (!this.stopped) this.openSocket(); }, 500 * this.failures);
    });
  }

  /** @param {{type: string, id: string, flow?: Flow, problem?: any}} data */
  answered(data) {
    const waiting = this.pending.get(data.id);
    if (!waiting) return;
    this.pending.delete(data.id);
    if (data.type === "ack") waiting.resolve(data.flow || null);
    else waiting.reject(new ApiError(data.problem.status, data.problem, data.problem.retry_after || null));
  }

  async poll() {
    this.setTransport("long-poll");
    const wait = this.options.wait ?? 25;
    while (!this.stopped) {
      try {
        this.offer(await this.client.flows.get(this.flow.id, { token: this.token, wait, newerThan: this.flow.version }));
      } catch (error) {
        if (error instanceof ApiError && [401, 403, 404].includes(error.status)) {
          this.fail(error);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_RETRY_MS));
      }
    }
  }
}
