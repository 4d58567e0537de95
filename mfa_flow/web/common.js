// What the three pages share: building elements, calling the API, following a flow live.
// Everything here talks to the service's own public API; no rule of the service lives here.

export const $ = (selector, root = document) => root.querySelector(selector);
export const product = document.body.dataset.product || "mfa-flow";

// el("button", {type: "button", onclick}, "Label"): attributes set as given, "on…" as
// listeners, true as an empty attribute, false/null/undefined left out.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

export function button(label, onclick, { kind = "primary", ...attributes } = {}) {
  return el("button", { type: "button", class: kind, onclick, ...attributes }, label);
}

// Asks before an action that cannot be undone, saying what will happen: a modal dialog with
// the action's own words on one button and a way back on the other (which has the focus, and
// which Escape chooses). Resolves true only when the person confirms.
export function confirmAction({ title, says, confirm, back = "Cancel" }) {
  return new Promise((resolve) => {
    const yes = el("button", { type: "button", class: "danger", id: "confirm-yes" }, confirm);
    const no = el("button", { type: "button", class: "secondary", id: "confirm-no" }, back);
    const dialog = el("dialog", { class: "confirm", "aria-labelledby": "confirm-title", "aria-describedby": "confirm-says" },
      el("h2", { id: "confirm-title" }, title),
      el("div", { id: "confirm-says" }, ...[says].flat().filter(Boolean).map((line) => el("p", {}, line))),
      el("div", { class: "actions" }, yes, no));
    const answer = (confirmed) => {
      dialog.close();
      dialog.remove();
      resolve(confirmed);
    };
    yes.addEventListener("click", () => answer(true));
    no.addEventListener("click", () => answer(false));
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); answer(false); });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}

// An answer that is not 2xx: the RFC 9457 problem document, its status and Retry-After.
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.kind = (problem.type || "").split(":").pop();
    this.retryAfter = retryAfter;
  }
}

export async function api(method, path, { token, body, headers = {} } = {}) {
  const response = await fetch(path, {
    method,
    headers: {
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204 || response.status === 304) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text.slice(0, 200) }; }
  if (!response.ok) {
    const retry = Number(response.headers.get("Retry-After")) || (data && data.retry_after) || null;
    throw new ApiError(response.status, data || {}, retry);
  }
  return data;
}

export const FACTORS = {
  totp: { name: "Authenticator app", hint: "A 6-digit code from an app on your phone" },
  webauthn: { name: "Passkey", hint: "Your fingerprint, face, screen lock or a security key" },
  email_code: { name: "Email code", hint: "A 6-digit code sent to your email address" },
  sms_code: { name: "Text message code", hint: "A 6-digit code sent to your phone" },
  backup_code: { name: "Backup code", hint: "One of the codes you saved when you set this up" },
};
export const factorName = (factor) => (FACTORS[factor] || { name: factor.replace(/_/g, " ") }).name;

// RFC 8176 method references, in words.
const METHODS = {
  pwd: "password", otp: "one-time code", hwk: "passkey", swk: "passkey", user: "passkey with your screen lock",
  mfa: null, sms: "text message", mca: null, tel: "phone",
};
export function methodsInWords(amr = []) {
  const words = [...new Set(amr.map((m) => (m in METHODS ? METHODS[m] : m)).filter(Boolean))];
  return words.length ? words.join(" and ") : "your password";
}

export function clock(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}` : `${s} s`;
}

export function plural(n, one, many) { return `${n} ${n === 1 ? one : many}`; }

// A ticking text (a lockout or a resend countdown): calls render(secondsLeft) every second,
// then done() once, and stops when the node leaves the page. The node may be put on the page
// just after this is called (a view builds its nodes first).
export function countdown(node, until, render, done) {
  let shown = false;
  const tick = () => {
    const left = (until - Date.now()) / 1000;
    if (shown && !node.isConnected) return;
    shown = true;
    if (left <= 0) { done(); return; }
    node.textContent = render(left);
    setTimeout(tick, Math.min(1000, left * 1000));
  };
  tick();
}

const TERMINAL = new Set(["done", "failed", "expired", "cancelled"]);
export const isTerminal = (state) => TERMINAL.has(state);

// Follows one flow: the WebSocket first; if it cannot be opened (a proxy that drops
// upgrades), long-polling GET ?wait=. onFlow gets each version newer than the last one seen.
// document.body.dataset.live says which is in use.
export class FlowFollower {
  constructor(flowId, token, onFlow) {
    Object.assign(this, { flowId, token, onFlow, version: -1, stopped: false, socket: null, failures: 0 });
    this.pending = new Map(); // event id -> {resolve, reject}, answered by an ack or an error
    this.sequence = 0;
    // Settles once the WebSocket is open (true) or will not be (false): a flow created to
    // carry an event waits for it, so that the event goes over the socket too.
    this.opened = new Promise((resolve) => { this.settleOpened = resolve; });
  }

  // Sends one event: over the WebSocket when it is open (its answer is an ack or an error
  // message, so a refused code is no failed request in the browser's console), else POST.
  send(event) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      return api("POST", `/api/flows/${this.flowId}/events`, { token: this.token, body: event });
    }
    const id = `e${++this.sequence}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ type: "event", id, event }));
    });
  }

  answered(data) {
    const waiting = this.pending.get(data.id);
    if (!waiting) return;
    this.pending.delete(data.id);
    if (data.type === "ack") waiting.resolve(data.flow);
    else waiting.reject(new ApiError(data.problem.status, data.problem, data.problem.retry_after || null));
  }

  offer(flow) {
    if (!flow || this.stopped || flow.version <= this.version) return;
    this.version = flow.version;
    this.onFlow(flow);
    if (isTerminal(flow.state)) this.stop();
  }

  start() {
    if (!("WebSocket" in window)) { this.settleOpened(false); this.poll(); return; }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/api/flows/${this.flowId}/ws?token=${encodeURIComponent(this.token)}`;
    let opened = false;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      opened = true;
      this.failures = 0;
      document.body.dataset.live = "websocket";
      this.settleOpened(true);
    });
    socket.addEventListener("message", (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "flow") this.offer(data.flow);
      else if (data.type === "ack" || data.type === "error") this.answered(data);
    });
    socket.addEventListener("close", (closed) => {
      // After the final state the server closes the socket; an answer still awaited is moot.
      for (const { resolve, reject } of this.pending.values()) {
        if (this.stopped) resolve(null); else reject(new Error("the connection closed; try again"));
      }
      this.pending.clear();
      if (!opened) this.settleOpened(false);
      if (this.stopped || closed.code === 1000) return;
      // 1001: the server is shutting down, another one answers. Never opened: fall back.
      if (!opened || ++this.failures > 3) this.poll();
      else setTimeout(() => this.start(), 500 * this.failures);
    });
  }

  async poll() {
    document.body.dataset.live = "long-poll";
    while (!this.stopped) {
      try {
        const headers = this.version >= 0 ? { "If-None-Match": `"${this.version}"` } : {};
        const flow = await api("GET", `/api/flows/${this.flowId}?wait=25`, { token: this.token, headers });
        if (flow) this.offer(flow);
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  }

  stop() {
    this.stopped = true;
    // With an answer still awaited, the server closes the socket itself after the final state.
    if (this.socket && this.socket.readyState <= WebSocket.OPEN && !this.pending.size) this.socket.close(1000);
  }
}

// Text to a file the browser saves (backup codes as .txt).
export function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const link = el("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export async function copy(text, statusNode) {
  try {
    await navigator.clipboard.writeText(text);
    statusNode.textContent = "Copied.";
  } catch {
    statusNode.textContent = "Copying is not allowed here: select the text and copy it yourself.";
  }
}
