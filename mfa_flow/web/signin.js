// The sign-in page: it starts a flow and renders whatever state the flow is in, offering
// exactly the flow's allowed_events. All rules live on the server; this page only asks.

const $ = (selector) => document.querySelector(selector);
const FACTOR_NAMES = { totp: "Authenticator app", webauthn: "Passkey", backup_code: "Backup code" };
let flow = null;
let token = null;

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) throw Object.assign(new Error(data.detail || response.statusText), { problem: data });
  return data;
}

let stream = null;

async function start() {
  const created = await api("POST", "/api/flows", {});
  token = created.flow_token;
  render(created.flow);
  follow();
}

// Changes made elsewhere (another tab, another device, the embedding backend, expiry) arrive
// over Server-Sent Events from whichever server process is serving this page.
function follow() {
  if (stream) stream.close();
  stream = new EventSource(`/api/flows/${flow.id}/sse?token=${encodeURIComponent(token)}`);
  stream.addEventListener("flow", (message) => {
    const next = JSON.parse(message.data);
    if (next.version > flow.version) render(next);
  });
}

async function send(event) {
  showError(null);
  try {
    render(await api("POST", `/api/flows/${flow.id}/events`, { ...event, expected_version: flow.version }));
  } catch (error) {
    showError(error.message);
    // A wrong code also moves the flow (an attempt is counted): show where it stands now, unless
    // the live stream showed it already (rendering it again would wipe what the user typed since).
    try {
      const next = await api("GET", `/api/flows/${flow.id}`);
      if (next.version > flow.version) render(next);
    } catch (_) { /* the error above says enough */ }
  }
}

function showError(message) {
  $("#error").hidden = !message;
  $("#error").textContent = message || "";
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function button(label, onclick, secondary = false) {
  return el("button", { type: "button", onclick, ...(secondary ? { class: "secondary" } : {}) }, label);
}

function codeForm(label, event, inputmode) {
  const input = el("input", { id: "code", name: "code", autocomplete: "one-time-code", inputmode, required: "" });
  return el("form", { onsubmit: (e) => { e.preventDefault(); send({ type: event, code: input.value }); } },
    el("label", { for: "code" }, label), input, el("button", { type: "submit" }, "Verify"));
}

function credentialsForm() {
  const username = el("input", { id: "username", name: "username", autocomplete: "username", required: "" });
  const password = el("input", { id: "password", name: "password", type: "password",
    autocomplete: "current-password", required: "" });
  const submit = (type) => send({ type, username: username.value, password: password.value });
  const form = el("form", { onsubmit: (e) => { e.preventDefault(); submit("submit_password"); } },
    el("label", { for: "username" }, "Username"), username,
    el("label", { for: "password" }, "Password"), password,
    el("button", { type: "submit" }, "Sign in"));
  if (flow.allowed_events.includes("submit_registration")) {
    form.append(button("Create account", () => submit("submit_registration"), true));
  }
  return form;
}

async function passkey(create) {
  showError(null);
  try {
    const options = flow.challenge.publicKey;
    const credential = create
      ? await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })
      : await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
    await send({ type: "submit_webauthn", credential: credential.toJSON() });
  } catch (error) {
    showError(error.problem ? error.message : `The passkey did not answer: ${error.message}`);
  }
}

const VIEWS = {
  first_factor: () => [credentialsForm()],
  factor_selection: () => [
    el("p", {}, flow.mode === "setup" ? "Choose a second factor to set up." : "Choose how to verify."),
    ...flow.factors.map((f) => button(FACTOR_NAMES[f] || f.replace(/_/g, " "),
      () => send({ type: "select_factor", factor: f }))),
  ],
  totp_setup: () => {
    const qr = el("div", { class: "qr" });
    if (flow.challenge) qr.innerHTML = flow.challenge.qr_svg; // SVG made by the server (segno), not user input
    return [el("p", {}, "Scan this code with your authenticator app, then enter the code it shows."), qr,
      el("p", { class: "secret" }, flow.challenge ? flow.challenge.secret : ""),
      codeForm("Code from the app", "submit_totp", "numeric")];
  },
  totp_verify: () => [codeForm("Code from your authenticator app", "submit_totp", "numeric")],
  backup_code_verify: () => [codeForm("One of your backup codes", "submit_backup_code", "text")],
  webauthn_setup: () => [el("p", {}, "Create a passkey on this device or a security key."),
    button("Create a passkey", () => passkey(true))],
  webauthn_verify: () => [button("Use your passkey", () => passkey(false))],
  backup_codes: () => [el("p", {}, "Save these backup codes somewhere safe. Each works once; they are shown only now."),
    el("ul", { class: "codes" }, ...flow.challenge.codes.map((c) => el("li", {}, c))),
    button("I have saved these codes", () => send({ type: "acknowledge_backup_codes" }))],
  done: () => [el("p", { id: "signed-in" }, `Signed in (${flow.result.amr.join(", ")}).`)],
  failed: () => [el("p", {}, "The sign-in failed."), button("Start again", start)],
  expired: () => [el("p", {}, "The sign-in took too long and expired."), button("Start again", start)],
  cancelled: () => [el("p", {}, "The sign-in was cancelled."), button("Start again", start)],
};

// A state of a factor this page has no words for yet: a code form for its proof event, and a
// button for each of its other events (so a new factor works here before it gets its own view).
function genericView() {
  const proof = flow.allowed_events.find((e) => e.startsWith("submit_"));
  return [
    ...(proof ? [codeForm("Code", proof, "text")] : []),
    ...flow.allowed_events.filter((e) => e !== proof && !(e in EXTRA_BUTTONS))
      .map((e) => button(e.replace(/_/g, " "), () => send({ type: e }), true)),
  ];
}

const EXTRA_BUTTONS = {
  skip: ["Skip for now", { type: "skip" }],
  switch_factor: ["Use another method", { type: "switch_factor" }],
  cancel: ["Cancel", { type: "cancel" }],
};

function render(next) {
  flow = next;
  document.body.dataset.state = flow.state;
  document.body.dataset.flow = flow.id;
  $("#status").textContent = flow.state === "first_factor" ? "" : `Step: ${flow.state.replace(/_/g, " ")}`
    + (flow.attempts_left < 5 && !["done", "failed"].includes(flow.state) ? ` · ${flow.attempts_left} attempts left` : "");
  const extras = Object.entries(EXTRA_BUTTONS)
    .filter(([event]) => flow.allowed_events.includes(event))
    .map(([, [label, event]]) => button(label, () => send(event), true));
  $("#step").replaceChildren(...(VIEWS[flow.state] || genericView)(), ...extras);
}

start().catch((error) => showError(`The sign-in service did not answer: ${error.message}`));
