// One flow on screen: each state in plain words, the flow's allowed events as the only
// actions, followed live. The sign-in page and the account page both use it. All rules live on
// the server: this only shows where a flow stands and asks it to move.

import {
  $, ApiError, FACTORS, button, clock, copy, countdown, download, el, factorName, isTerminal, methodsInWords, product,
  service,
} from "./common.js";
import { formatDate, known, locale, t, tn } from "./i18n.js";
import { credentialFor, webauthnSupported } from "./vendor/mfa-flow-client/index.js";

// Whether this browser offers passkeys in a field's autofill (WebAuthn conditional mediation).
async function conditionalMediation() {
  try {
    const native = globalThis.PublicKeyCredential;
    return Boolean(webauthnSupported() && native.isConditionalMediationAvailable
      && await native.isConditionalMediationAvailable());
  } catch { return false; }
}

const CODE_EVENTS = { totp: "submit_totp", email_code: "submit_email_code", sms_code: "submit_sms_code" };

function codeInput(id, label, { numeric = true, hint } = {}) {
  const input = el("input", {
    id, name: id, autocomplete: "one-time-code", inputmode: numeric ? "numeric" : "text", required: true,
    spellcheck: "false", autocapitalize: "off", "aria-describedby": hint ? `${id}-hint` : null,
    ...(numeric ? { pattern: "[0-9 ]{6,7}", maxlength: "7", size: "8" } : { size: "14" }),
  });
  return [el("label", { for: id }, label), hint ? el("p", { id: `${id}-hint`, class: "hint" }, hint) : null, input];
}

function groupedSecret(secret) { return secret.replace(/(.{4})/g, "$1 ").trim(); }

export class FlowUI {
  // root: the element to render into. options.views: extra or replacing views by state;
  // options.onFinished(flow): called once the flow reaches a terminal state (after rendering).
  // options.cancelAtStart: offer Cancel at the password too (an app is waiting for the answer).
  // options.savedKey: where this tab keeps the flow it follows (default: one per page).
  constructor(root, options = {}) {
    this.root = root;
    this.options = options;
    this.flow = null;
    this.session = null; // the SDK's FlowSession: drives the flow and follows it live
    this.username = "";
    this.lockedUntil = 0;
    this.timer = null;
    // Passkey sign-in: whether the browser offers passkeys in the username field's autofill
    // (known once ``ready`` resolves), and the pending autofill request, if any.
    this.conditional = false;
    this.ready = conditionalMediation().then((available) => { this.conditional = available; });
    this.passkeyAbort = null;
    this.conditionalChallenge = null;
  }

  // Shows the sign-in form with no flow behind it yet: the flow (POST /api/flows with body)
  // is created when the person submits the form, so opening or reloading the page costs the
  // service nothing (no row, no count against the address's limit). A flow this tab was
  // following is picked up where it stands instead (a reload in the middle of a sign-in).
  async begin(body = {}) {
    this.showError(null);
    this.body = body;
    if (await this.resume()) return;
    if (this.session) this.session.stop();
    this.session = null;
    this.flow = null;
    // Passkey sign-in on: where the browser offers passkeys in the username field's autofill,
    // the flow (and so its challenge) must exist before the person types, so it starts now
    // (a reload resumes it); elsewhere a button starts it when pressed.
    const [offers] = await Promise.all([service.signInOptions().catch(() => null), this.ready]);
    const passkeys = Boolean(offers && offers.passkey_sign_in);
    if (passkeys && this.conditional) { await this.start(body); return; }
    this.render(unstarted(passkeys));
  }

  // Starts a flow at once (POST /api/flows with body) and follows it: an account flow, which
  // starts from a sign-in's result token rather than from a form.
  async start(body = {}) {
    this.showError(null);
    let session;
    try {
      session = await service.flows.start(body);
    } catch (error) {
      this.renderStartFailure(error, body);
      return;
    }
    this.adopt(session);
  }

  // Shows a flow session's flow and each newer version of it, over the WebSocket or, where
  // none opens, by long-polling (body[data-live] says which).
  // quiet: follow the flow without showing it (the form that created it is sending its event).
  // first: the attempts the flow started with (a resumed flow may have spent some).
  adopt(session, { quiet = false, first = session.flow.attempts_left } = {}) {
    if (this.session) this.session.stop();
    this.session = session;
    this.firstAttempts = first;
    sessionStorage.setItem(this.savedKey(), JSON.stringify({ id: session.id, token: session.token, first }));
    session.subscribe((flow) => this.render(flow));
    if (quiet) this.flow = session.flow; else this.render(session.flow);
    session.follow({ onTransport: (transport) => { if (transport !== "stopped") document.body.dataset.live = transport; } });
  }

  // The flow this tab was following, if it has not ended: adopted, and true.
  async resume() {
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(this.savedKey()) || "null"); } catch { /* not ours */ }
    if (!saved || !saved.id || !saved.token) return false;
    try {
      const session = await service.flows.resume(saved.id, saved.token);
      if (!isTerminal(session.flow.state)) {
        this.adopt(session, { first: saved.first ?? session.flow.attempts_left });
        return true;
      }
    } catch { /* gone, or no longer ours: start afresh */ }
    sessionStorage.removeItem(this.savedKey());
    return false;
  }

  renderStartFailure(error, body) {
    const retry = () => this.start(body);
    const note = el("p", { class: "lead" });
    const again = button(t("action.try_again"), retry);
    this.paint(t("start.failed_title"), [note, again]);
    if (error.retryAfter) {
      again.disabled = true;
      countdown(note, Date.now() + error.retryAfter * 1000, (left) => t("start.rate_limited", { time: clock(left) }),
        () => { note.textContent = t("lockout.over"); again.disabled = false; });
    } else {
      note.textContent = t("start.no_answer", { reason: error instanceof ApiError ? problemMessage(error) : error.message });
    }
  }

  // --- sending events -------------------------------------------------------------------

  async send(event, form) {
    this.showError(null);
    this.lastEvent = event.type;
    const controls = form ? [...form.querySelectorAll("button, input")] : [];
    controls.forEach((c) => { c.disabled = true; });
    if (form) form.setAttribute("aria-busy", "true");
    try {
      if (!this.session) {
        this.adopt(await service.flows.start(this.body || {}), { quiet: true });
        await Promise.race([this.session.connected, new Promise((resolve) => { setTimeout(resolve, 2000); })]);
      }
      // expected_version: the version shown; a flow moved on in another tab refuses the event.
      const flow = await this.session.send(event, { expectedVersion: this.flow.version });
      this.keepDeviceToken(flow);
    } catch (error) {
      controls.forEach((c) => { c.disabled = false; });
      if (form) form.removeAttribute("aria-busy");
      await this.failed(error);
    }
  }

  async failed(error) {
    if (!(error instanceof ApiError)) {
      this.showError(t("error.on_the_way", { reason: error.message }));
      return;
    }
    if (!this.session) { // the flow could not be created: nothing moved
      this.showError(this.explain(error));
      if (error.status === 429 && error.retryAfter) this.lockFor(error.retryAfter);
      return;
    }
    // A wrong code also moves the flow (the attempt is counted): show where it stands now.
    try {
      await this.session.refresh();
    } catch { /* the message below says enough */ }
    if (isTerminal(this.flow.state)) return;
    this.showError(this.explain(error));
    if (error.status === 429 && error.retryAfter) this.lockFor(error.retryAfter);
  }

  explain(error) {
    if (error.kind !== "wrong-proof") return problemMessage(error);
    const left = error.problem.attempts_left;
    const tries = left === undefined ? "" : ` ${tn("error.attempts_left", left)}`;
    if (this.flow.state === "first_factor" && this.lastEvent === "submit_passkey") return `${t("error.wrong_passkey")}${tries}`;
    if (this.flow.state === "first_factor") return `${t("error.wrong_password")}${tries}`;
    if (this.flow.state === "webauthn_setup" || this.flow.state === "webauthn_verify") return `${t("error.wrong_passkey")}${tries}`;
    return `${t("problem.wrong-proof")}${tries}`;
  }

  // A lockout or rate limit: the forms stay disabled, with a countdown, until it ends.
  lockFor(seconds) {
    this.lockedUntil = Date.now() + seconds * 1000;
    const note = $("#lockout", this.root);
    if (!note) return;
    note.hidden = false;
    const controls = [...this.root.querySelectorAll("form button, form input")];
    controls.forEach((c) => { c.disabled = true; });
    countdown(note, this.lockedUntil, (left) => t("lockout.wait", { time: clock(left) }), () => {
      note.textContent = t("lockout.over");
      controls.forEach((c) => { c.disabled = false; });
    });
  }

  showError(message) {
    const node = $("#error", this.root);
    if (!node) return;
    node.hidden = !message;
    node.textContent = message || "";
    const attempts = $(".attempts", this.root);
    if (attempts) attempts.hidden = Boolean(message); // the message says how many are left
  }

  // --- rendering --------------------------------------------------------------------------

  paint(title, body, { lead, actions = [] } = {}) {
    const heading = el("h1", { tabindex: "-1", id: "step-title" }, title);
    this.root.replaceChildren(...[
      heading,
      lead ? el("p", { class: "lead" }, lead) : null,
      el("p", { id: "error", role: "alert", hidden: true }),
      el("p", { id: "lockout", class: "lockout", role: "status", hidden: true }),
      ...body,
      actions.length ? el("div", { class: "actions" }, ...actions) : null,
      el("p", { id: "timer", class: "timer" }),
    ].filter(Boolean));
    return heading;
  }

  render(flow) {
    const previous = this.flow;
    this.flow = flow;
    if (flow.state !== "first_factor") this.abortPasskey();
    document.body.dataset.state = flow.state;
    if (flow.id) document.body.dataset.flow = flow.id; else delete document.body.dataset.flow;
    if (flow.id && isTerminal(flow.state)) sessionStorage.removeItem(this.savedKey());
    const view = (this.options.views || {})[flow.state] || VIEWS[flow.state] || genericView;
    // A change that keeps the state (a code's delivery recorded, a wrong attempt) must not
    // wipe what the person is typing: carry the fields' values and the focus over.
    const sameStep = previous && previous.state === flow.state;
    const typed = sameStep ? [...this.root.querySelectorAll("input[id]")].map((i) => [i.id, i.value, i.checked]) : [];
    const focused = sameStep && this.root.contains(document.activeElement) ? document.activeElement.id : null;
    const { title, lead, body = [], actions = [] } = view.call(this, flow);
    const heading = this.paint(title, body, { lead, actions: [...actions, ...this.commonActions(flow)] });
    for (const [id, value, checked] of typed) {
      const input = this.root.querySelector(`#${CSS.escape(id)}`);
      if (!input || input.type === "password") continue;
      if (input.type === "checkbox") { input.checked = checked; input.dispatchEvent(new Event("change")); } else input.value = value;
    }
    this.showAttempts(flow);
    this.showTimer();
    if (this.lockedUntil > Date.now()) this.lockFor((this.lockedUntil - Date.now()) / 1000);
    // Keyboard and screen-reader users land on the new step: its first field, else its title.
    const first = this.root.querySelector("input:not([type=checkbox]):not([disabled])");
    const keep = focused && this.root.querySelector(`#${CSS.escape(focused)}`);
    if (keep) keep.focus();
    else if (previous === null || previous.state !== flow.state || previous.version !== flow.version) {
      (first || heading).focus();
    }
    if (isTerminal(flow.state) && this.options.onFinished && (!previous || !isTerminal(previous.state))) {
      this.options.onFinished(flow);
    }
  }

  showAttempts(flow) {
    const asksForProof = flow.allowed_events.some((e) => e.startsWith("submit_"));
    if (!flow.id || !asksForProof || flow.attempts_left >= this.firstAttempts) return;
    const note = el("p", { class: "attempts" }, tn("attempts.left", flow.attempts_left));
    $("#error", this.root).after(note);
  }

  showTimer() {
    clearInterval(this.timer);
    const node = $("#timer", this.root);
    if (!this.flow.id || isTerminal(this.flow.state)) return;
    const expires = Date.parse(this.flow.expires_at);
    const tick = () => {
      const left = (expires - Date.now()) / 1000;
      // Only the last two minutes: earlier it is noise.
      node.textContent = left < 120 && left > 0 ? t("timer.times_out", { time: clock(left) }) : "";
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }

  commonActions(flow) {
    const actions = [];
    if (flow.allowed_events.includes("switch_factor")) {
      actions.push(button(t("action.switch_factor"), () => this.send({ type: "switch_factor" }), { kind: "secondary" }));
    }
    if (flow.allowed_events.includes("skip")) {
      actions.push(button(t("action.skip"), () => this.send({ type: "skip" }), { kind: "secondary" }));
    }
    if (flow.allowed_events.includes("cancel") && (flow.state !== "first_factor" || this.options.cancelAtStart)) {
      actions.push(button(t("action.cancel"), () => this.send({ type: "cancel" }), { kind: "link" }));
    }
    return actions;
  }

  // "Remember this device" when trusted devices are on and this step can end the sign-in
  // (a verification, or the backup codes that end a set-up).
  rememberOffer(flow) {
    const days = flow.remember_device_days;
    if (!days || !(flow.mode === "verify" || flow.state === "backup_codes")) return null;
    const box = el("input", { type: "checkbox", id: "remember", name: "remember" });
    const label = el("label", { for: "remember", class: "check" }, box, " ", tn("remember.offer", days));
    return { node: label, value: () => box.checked };
  }

  // A new device token comes once, in the answer to the event that ended the sign-in: kept in
  // this browser for the username, and sent with the password next time.
  keepDeviceToken(flow) {
    const token = flow && flow.result && flow.result.device_token;
    if (!token || !this.username) return;
    localStorage.setItem(FlowUI.deviceKey(this.username), token);
    this.deviceRemembered = true;
    if (this.flow && this.flow.state === "done") this.render(this.flow);
  }

  codeForm(event, fields, { submit = t("code.submit"), numeric = true, extra = {} } = {}) {
    const remember = this.rememberOffer(this.flow);
    const form = el("form", { novalidate: true }, ...fields, remember && remember.node,
      el("button", { type: "submit", class: "primary" }, submit));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const input = form.querySelector("input[autocomplete=one-time-code]");
      const code = numeric ? input.value.replace(/\s+/g, "") : input.value.trim();
      if (!code) { this.showError(t("code.missing")); input.focus(); return; }
      this.send({ type: event, code, ...extra, ...(remember && remember.value() ? { remember_device: true } : {}) }, form);
    });
    return form;
  }

  async passkey(form) {
    this.showError(null);
    const options = this.flow.challenge && this.flow.challenge.publicKey;
    if (!options) { this.showError(t("passkey.not_ready")); return; }
    if (!webauthnSupported()) {
      this.showError(t("passkey.unsupported"));
      return;
    }
    let credential;
    try {
      credential = await credentialFor(options);
    } catch (error) {
      this.showError(error.name === "NotAllowedError"
        ? t("passkey.cancelled")
        : error.name === "InvalidStateError"
          ? t("passkey.exists")
          : error.name === "SecurityError"
            ? otherAddress(options)
            : t("passkey.no_answer", { reason: error.message }));
      return;
    }
    const remember = form && form.querySelector("#remember");
    await this.send({ type: "submit_webauthn", credential,
      ...(remember && remember.checked ? { remember_device: true } : {}) }, form);
  }

  // --- passkey sign-in (the first factor) ------------------------------------------------

  // The "Sign in with a passkey" button: the browser's own passkey chooser (modal). The flow
  // is started first if the page has none yet.
  async passkeySignIn(form) {
    this.showError(null);
    if (!webauthnSupported()) { this.showError(t("passkey.unsupported_sign_in")); return; }
    if (!this.session) {
      try {
        this.adopt(await service.flows.start(this.body || {}), { quiet: true });
      } catch (error) { await this.failed(error); return; }
    }
    const offer = this.flow.challenge && this.flow.challenge.passkey;
    if (!offer) { this.showError(t("passkey.unavailable")); return; }
    this.abortPasskey(); // a pending autofill request would block the modal one
    let credential;
    try {
      credential = await credentialFor(offer.publicKey);
    } catch (error) {
      this.showError(error.name === "NotAllowedError"
        ? t("passkey.cancelled_sign_in")
        : error.name === "SecurityError"
          ? otherAddress(offer.publicKey)
          : t("passkey.no_answer", { reason: error.message }));
      return;
    }
    await this.send({ type: "submit_passkey", credential }, form);
  }

  // The username field's autofill: a conditional request for the flow's passkey challenge,
  // pending while the form is shown; the person picks a passkey from the autofill list.
  async armConditional(flow) {
    const offer = flow.challenge && flow.challenge.passkey;
    if (!this.conditional || !offer || flow.state !== "first_factor") return;
    if (this.conditionalChallenge === offer.publicKey.challenge) return; // armed already
    this.abortPasskey();
    const controller = new AbortController();
    this.passkeyAbort = controller;
    this.conditionalChallenge = offer.publicKey.challenge;
    document.body.dataset.passkeyAutofill = "armed";
    let credential;
    try {
      credential = await credentialFor(offer.publicKey, { signal: controller.signal, mediation: "conditional" });
    } catch {
      return; // aborted (the flow moved on, or a new challenge came), or the browser gave up: the form stays
    } finally {
      if (this.passkeyAbort === controller) this.passkeyAbort = null;
    }
    if (controller.signal.aborted) return;
    await this.send({ type: "submit_passkey", credential }, this.root.querySelector("form"));
  }

  abortPasskey() {
    if (this.passkeyAbort) this.passkeyAbort.abort();
    this.passkeyAbort = null;
    this.conditionalChallenge = null;
    delete document.body.dataset.passkeyAutofill;
  }

  // Where this tab keeps the flow it follows (its id and flow token), per page, until it ends.
  // Where this tab keeps the flow it follows (a reload picks it up): per page, or the caller's.
  savedKey() { return this.options.savedKey || `mfa-flow.flow.${location.pathname}`; }

  // The device token of a remembered device, per username (only this browser has it).
  static deviceKey(username) { return `mfa-flow.device.${username.toLowerCase()}`; }
}

// A refusal in the page's words, by its problem type: every type the service can answer with has
// a message in each catalogue (problem.<type>). In English the service's own detail says more
// (the field, the rule), except where the page's words say what to do.
const PAGE_WORDS = new Set(["user-locked", "rate-limited", "busy", "flow-expired", "conflict"]);

export function problemMessage(error) {
  const key = known(`problem.${error.kind}`) ? `problem.${error.kind}` : "problem.unknown";
  if (locale !== "en" || PAGE_WORDS.has(error.kind)) return t(key);
  const detail = error.problem.detail || error.message;
  return detail.charAt(0).toUpperCase() + detail.slice(1) + (detail.endsWith(".") ? "" : ".");
}

// The sign-in form before its flow exists: what a new flow in first_factor allows.
function unstarted(passkeys = false) {
  const signUp = document.body.dataset.signUp === "on";
  return { id: null, state: "first_factor", version: 0, mode: null, factors: [], attempts_left: null, expires_at: null,
    allowed_events: ["submit_password", ...(signUp ? ["submit_registration"] : []), ...(passkeys ? ["submit_passkey"] : [])] };
}

// --- the views: each returns {title, lead, body, actions} ------------------------------------

function credentialsView(flow) {
  // Passkey sign-in: offered in the username field's autofill where the browser can, else by a button.
  const passkeys = flow.allowed_events.includes("submit_passkey");
  const autofill = passkeys && this.conditional && Boolean(flow.challenge && flow.challenge.passkey);
  const username = el("input", { id: "username", name: "username", autocomplete: passkeys ? "username webauthn" : "username",
    required: true, autocapitalize: "off", spellcheck: "false", value: this.username });
  const password = el("input", { id: "password", name: "password", type: "password",
    autocomplete: "current-password", required: true });
  const form = el("form", { novalidate: true },
    el("label", { for: "username" }, t("signin.username")), username,
    el("label", { for: "password" }, t("signin.password")), password,
    el("button", { type: "submit", class: "primary" }, t("signin.submit")));
  const submit = (type) => {
    if (!username.value.trim() || !password.value) {
      this.showError(t("signin.missing_fields"));
      (username.value.trim() ? password : username).focus();
      return;
    }
    this.username = username.value.trim();
    const event = { type, username: this.username, password: password.value };
    const device = localStorage.getItem(FlowUI.deviceKey(this.username));
    if (device && type === "submit_password") event.device_token = device;
    this.send(event, form);
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); submit("submit_password"); });
  const actions = flow.allowed_events.includes("submit_registration")
    ? [button(t("signin.create_account"), () => submit("submit_registration"), { kind: "secondary" })] : [];
  if (passkeys && !autofill) {
    actions.unshift(button(t("signin.passkey_button"), () => this.passkeySignIn(form), { kind: "secondary" }));
  }
  if (autofill) setTimeout(() => this.armConditional(flow), 0); // once the field is on the page
  return { title: t("signin.title", { product }), body: [form], actions };
}

function selectionView(flow) {
  const setup = flow.mode === "setup";
  // The factor used last comes first (the service also sends the user straight to it).
  const factors = [...flow.factors].sort((a, b) => (b === flow.preferred_factor) - (a === flow.preferred_factor));
  const list = el("ul", { class: "choices" }, ...factors.map((factor) => el("li", {},
    el("button", { type: "button", class: "choice", onclick: () => this.send({ type: "select_factor", factor }) },
      el("span", { class: "choice-name" }, factorName(factor),
        factor === flow.preferred_factor && !setup ? el("span", { class: "badge" }, t("selection.last_used")) : null),
      el("span", { class: "choice-hint" }, (FACTORS[factor] || {}).hint || "")))));
  return setup
    ? { title: t("selection.setup_title"), lead: t("selection.setup_lead"), body: [list] }
    : { title: t("selection.verify_title"), lead: t("selection.verify_lead"), body: [list] };
}

function totpSetupView(flow) {
  const c = flow.challenge || {};
  const qr = el("div", { class: "qr", role: "img", "aria-label": t("totp.qr_label") });
  if (c.qr_svg) qr.innerHTML = c.qr_svg; // SVG made by the server from the otpauth URI (segno), not user input
  const copied = el("span", { class: "copied", role: "status" });
  const secret = c.secret || "";
  return {
    title: t("totp.setup_title"),
    body: [
      el("ol", { class: "steps" },
        el("li", {}, el("strong", {}, t("totp.step_open")),
          t("totp.step_open_apps", { apps: t("totp.apps") })),
        el("li", {}, el("strong", {}, t("totp.step_scan")), qr,
          el("details", { class: "manual" },
            el("summary", {}, t("totp.manual")),
            el("p", {}, t("totp.manual_how")),
            el("p", {}, el("code", { class: "secret", id: "secret", "data-secret": secret }, groupedSecret(secret))),
            el("p", {}, button(t("totp.copy_key"), () => copy(secret, copied), { kind: "secondary" }), copied),
            c.otpauth_uri ? el("p", {}, el("a", { href: c.otpauth_uri }, t("totp.open_app"))) : null)),
        el("li", {}, el("strong", {}, t("totp.step_code")),
          this.codeForm("submit_totp", codeInput("code", t("totp.code_label")), { submit: t("totp.setup_submit") }))),
    ],
  };
}

function totpVerifyView() {
  return {
    title: t("totp.verify_title"),
    lead: t("totp.verify_lead"),
    body: [this.codeForm("submit_totp", codeInput("code", t("code.label")))],
  };
}

function backupVerifyView() {
  return {
    title: t("backup.verify_title"),
    lead: t("backup.verify_lead"),
    body: [this.codeForm("submit_backup_code", codeInput("code", t("backup.label"), { numeric: false,
      hint: t("backup.hint") }), { numeric: false })],
  };
}

// The browser refuses a passkey ceremony when the page's host is not the service's RP ID or a
// name under it (an IP address such as 127.0.0.1 never is): say where passkeys work, and which
// settings of the service would make them work at this address instead.
function otherAddress(options) {
  const rpId = (options.rp && options.rp.id) || options.rpId || "?";
  const here = location.hostname;
  const there = `${location.protocol}//${rpId}${location.port ? `:${location.port}` : ""}${location.pathname}`;
  const ip = /^[\d.]+$|:/.test(here);
  const words = { rp_id: rpId, here, there, origin: location.origin };
  return ip ? t("passkey.other_address_ip", words) : t("passkey.other_address", words);
}

function passkeyView(create) {
  return function view() {
    const form = el("form", { novalidate: true });
    const remember = create ? null : this.rememberOffer(this.flow);
    form.append(...[remember && remember.node,
      el("button", { type: "submit", class: "primary" }, t(create ? "passkey.create_submit" : "passkey.use_submit"))].filter(Boolean));
    form.addEventListener("submit", (e) => { e.preventDefault(); this.passkey(form); });
    return create
      ? { title: t("passkey.create_title"), lead: t("passkey.create_lead"), body: [form] }
      : { title: t("passkey.use_title"), lead: t("passkey.use_lead"), body: [form] };
  };
}

// Email and SMS codes. The challenge says where the code went (masked), how its delivery
// went, and when another may be asked for; never the code.
function codeFactorView(factor) {
  const email = factor === "email_code";
  return function view(flow) {
    const c = flow.challenge || {};
    const setup = flow.state.endsWith("_setup");
    const body = [];
    if (setup && (!c.to || this.changingDestination)) {
      this.changingDestination = false;
      const field = c.field || (email ? "email" : "phone");
      const input = el("input", { id: field, name: field, type: email ? "email" : "tel", required: true,
        autocomplete: email ? "email" : "tel", inputmode: email ? "email" : "tel",
        "aria-describedby": email ? null : "phone-hint" });
      const form = el("form", { novalidate: true },
        el("label", { for: field }, email ? t("code.email_label") : t("code.phone_label")),
        email ? null : el("p", { class: "hint", id: "phone-hint" }, t("code.phone_hint")),
        input, el("button", { type: "submit", class: "primary" }, t("code.send")));
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        if (!input.value.trim()) { this.showError(email ? t("code.email_missing") : t("code.phone_missing")); return; }
        this.send({ type: "send_code", [field]: input.value.trim() }, form);
      });
      body.push(form);
      return { title: email ? t("code.email_setup_title") : t("code.phone_setup_title"), lead: t("code.setup_lead"), body };
    }
    if (c.delivery === "failed") {
      body.push(el("p", { class: "warning", id: "delivery" }, c.refused ? t("code.refused") : t("code.failed")));
    }
    body.push(this.codeForm(CODE_EVENTS[factor], codeInput("code", t("code.label"))));
    const resend = button(t("code.resend"), () => this.send({ type: "send_code" }), { kind: "secondary" });
    const wait = el("span", { class: "hint", role: "status", id: "resend-wait" });
    const resendAt = Date.parse(c.resend_at || "") || 0;
    if (c.sends_left === 0) {
      resend.disabled = true;
      wait.textContent = ` ${t("code.no_more")}`;
    } else if (resendAt > Date.now()) {
      resend.disabled = true;
      countdown(wait, resendAt, (left) => ` ${t("code.resend_wait", { time: clock(left) })}`,
        () => { wait.textContent = ""; resend.disabled = false; });
    }
    body.push(el("p", {}, resend, wait));
    if (setup) {
      body.push(el("p", {}, button(email ? t("code.other_address") : t("code.other_number"),
        () => { this.changingDestination = true; this.render(this.flow); }, { kind: "link" })));
    }
    const queued = c.delivery === "queued";
    const to = { to: c.to };
    return {
      title: email ? t("code.email_title") : t("code.phone_title"),
      lead: c.to ? (queued ? t("code.sending_to", to) : t("code.sent_to", to)) : (queued ? t("code.sending") : t("code.sent")),
      body,
    };
  };
}

function backupCodesView(flow) {
  const codes = (flow.challenge && flow.challenge.codes) || [];
  const date = formatDate(new Date().toISOString());
  const text = [t("backup.file_title", { product }),
    this.username ? t("backup.file_saved_for", { date, username: this.username }) : t("backup.file_saved", { date }),
    t("backup.file_note"), "", ...codes, ""].join("\n");
  const status = el("span", { class: "copied", role: "status" });
  const saved = el("input", { type: "checkbox", id: "saved", name: "saved" });
  const next = el("button", { type: "submit", class: "primary", disabled: true }, t("backup.continue"));
  saved.addEventListener("change", () => { next.disabled = !saved.checked; });
  const remember = this.rememberOffer(flow);
  const form = el("form", { novalidate: true },
    el("label", { for: "saved", class: "check" }, saved, " ", t("backup.saved_check")),
    remember && remember.node, next);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (saved.checked) {
      this.send({ type: "acknowledge_backup_codes", ...(remember && remember.value() ? { remember_device: true } : {}) }, form);
    }
  });
  const filename = `${product.replace(/[^A-Za-z0-9._-]+/g, "-")}-backup-codes.txt`;
  return {
    title: t("backup.sheet_title"),
    lead: t("backup.sheet_lead"),
    body: [
      el("ol", { class: "codes", id: "backup-codes", "aria-label": t("backup.codes_label") }, ...codes.map((code) => el("li", {}, el("code", {}, code)))),
      el("div", { class: "tools" },
        button(t("backup.copy"), () => copy(codes.join("\n"), status), { kind: "secondary" }),
        button(t("backup.download"), () => { download(filename, text); status.textContent = t("backup.downloaded"); }, { kind: "secondary" }),
        button(t("backup.print"), () => window.print(), { kind: "secondary" }), status),
      form,
    ],
  };
}

function doneView(flow) {
  const result = flow.result || {};
  const trusted = result.mfa_by === "trusted_device";
  return {
    title: t("done.title"),
    body: [
      el("p", { class: "success", id: "signed-in" }, el("span", { class: "tick", "aria-hidden": "true" }, "✓ "),
        t("done.signed_in", { product, methods: methodsInWords(result.amr) })),
      trusted ? el("p", {}, t("done.trusted")) : null,
      this.deviceRemembered ? el("p", { id: "remembered" }, t("done.remembered")) : null,
      el("p", { class: "hint" }, t("done.close")),
    ],
    // The account page in this page's language, whichever rule chose it here.
    actions: [el("a", { href: `/account?lang=${locale}`, class: "button secondary" }, t("done.manage"))],
  };
}

function endView(title, lead) {
  return function view() {
    return { title: t(title), lead: t(lead), body: [], actions: [button(t("action.start_again"), () => this.begin())] };
  };
}

// A state this page has no words for (a factor added later): a code form for its proof event
// and a button for each other event, so that it still works before it gets its own view.
function genericView(flow) {
  const proof = flow.allowed_events.find((e) => e.startsWith("submit_"));
  const others = flow.allowed_events.filter((e) => e !== proof && !["skip", "switch_factor", "cancel"].includes(e));
  return {
    title: t("generic.title"),
    body: [proof ? this.codeForm(proof, codeInput("code", t("generic.code_label")), { numeric: false }) : null].filter(Boolean),
    actions: others.map((e) => button(e.replace(/_/g, " "), () => this.send({ type: e }), { kind: "secondary" })),
  };
}

const VIEWS = {
  first_factor: credentialsView,
  factor_selection: selectionView,
  totp_setup: totpSetupView,
  totp_verify: totpVerifyView,
  webauthn_setup: passkeyView(true),
  webauthn_verify: passkeyView(false),
  backup_code_verify: backupVerifyView,
  email_code_setup: codeFactorView("email_code"),
  email_code_verify: codeFactorView("email_code"),
  sms_code_setup: codeFactorView("sms_code"),
  sms_code_verify: codeFactorView("sms_code"),
  backup_codes: backupCodesView,
  done: doneView,
  failed: endView("end.failed_title", "end.failed_lead"),
  expired: endView("end.expired_title", "end.expired_lead"),
  cancelled: endView("end.cancelled_title", "end.cancelled_lead"),
};
