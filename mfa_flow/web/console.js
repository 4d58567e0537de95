// The console: the service's settings, users, flows, webhooks, apps and keys, over the same API any
// other client uses. The key is asked for once and kept in this tab's session storage only.
// Parts of the API a server does not have (an older release) are found from its
// /openapi.json and left out with a note, rather than failing.

import { $, ApiError, FACTORS, MfaFlowClient, button, confirmAction, el, plural, product } from "./common.js";
import { verifyChain } from "./vendor/mfa-flow-client/index.js";

const KEY = "mfa-flow.console.key";
const main = $("#main");
let key = sessionStorage.getItem(KEY);
let role = null;
let spec = null; // the server's /openapi.json
let live = null; // the flows stream while the Flows page is open

let client = new MfaFlowClient({ token: key }); // the SDK, holding the console's key

// --- what the server offers (from its OpenAPI document) ---------------------------------------

function schema(name) { return (spec && spec.components.schemas[name]) || {}; }
function enumOf(node) {
  if (!node) return [];
  if (node.enum) return node.enum;
  if (node.items) return enumOf(node.items);
  if (node.$ref) return enumOf(schema(node.$ref.split("/").pop()));
  for (const part of node.anyOf || node.oneOf || []) { const values = enumOf(part); if (values.length) return values; }
  return [];
}

// --- words ----------------------------------------------------------------------------------

const PRIMARY = ["totp", "webauthn", "email_code", "sms_code"];
const FACTOR_TEXT = {
  totp: ["Authenticator app OTP", "The most common and widely accepted method: a 6-digit code from an app such as Google Authenticator."],
  webauthn: ["Passkeys (WebAuthn)", "A high-security option for devices with biometrics or security keys."],
  email_code: ["Email verification code", "A 6-digit code sent to the user's email address."],
  sms_code: ["SMS verification code", "A 6-digit code sent to the user's phone by text message."],
  backup_code: ["Backup codes", "One-time codes users save, for when they cannot use any of their primary factors. Enabling this reduces lock-outs."],
};
const POLICY_TEXT = {
  mandatory: ["Mandatory MFA", "Users are always required to use MFA at sign-in. They must set it up the first time they sign up or sign in, and use it for every sign-in after."],
  prompt_at_sign_in_and_sign_up: ["Ask at sign-up and sign-in (user-controlled)", "New users at sign-up, and existing users at their first sign-in, may set up MFA or skip it; they are asked once. Users can turn it on or off in their account settings."],
  user_controlled: ["User-controlled MFA", "New users at sign-up, and existing users at their first sign-in, may set up MFA or skip it; they are asked once. Users can turn it on or off in their account settings."],
  prompt_only_at_sign_in: ["Ask only at sign-in", "Not asked at sign-up; at a sign-in, users without MFA may set it up or skip it, once. Users can turn it on or off in their account settings."],
  no_prompt: ["Never ask", "Users are not asked to set up MFA. Those who set it up in their account settings verify it at sign-in."],
  prompt_at_sign_in_and_sign_up_mandatory: ["Ask at sign-up and sign-in, no skip (adaptive)", "New users at sign-up, and existing users without MFA at sign-in, must set it up. Users with MFA verify it when adaptive MFA finds a risk. Needs adaptive MFA on."],
  prompt_only_at_sign_in_mandatory: ["Ask only at sign-in, no skip (adaptive)", "Not asked at sign-up; users without MFA must set it up at their next sign-in. Users with MFA verify it when adaptive MFA finds a risk. Needs adaptive MFA on."],
};
// Each adaptive rule: its title, what makes it fire (with the default threshold), and its thresholds' labels.
const ADAPTIVE_TEXT = {
  new_country: ["New country", "Fires when the sign-in comes from a country not seen in the user's successful sign-ins within the window (180 days by default).", { window_days: "Window (days)" }],
  geo_velocity: ["Impossible travel", "Fires when reaching this sign-in's position from the last successful sign-in's needs a great-circle speed above the maximum (900 km/h by default).", { max_kmh: "Maximum speed (km/h)" }],
  long_inactivity: ["Long inactivity", "Fires when the user has not signed in successfully for this many days (30 by default).", { days: "Days without a sign-in" }],
  untrusted_ip: ["Untrusted address", "Fires when the bot score is below the minimum (30 by default), or the address is inside one of the listed networks (none by default).", { min_bot_score: "Minimum bot score" }],
  new_device: ["New device", "Fires when the browser's device id was not seen in a successful sign-in of the user.", {}],
  failure_burst: ["Burst of failures", "Fires when this many first factors or proofs of the user failed within the minutes given (5 within 15 by default).", { failures: "Failures", minutes: "Within (minutes)" }],
};
const STATE_WORDS = {
  first_factor: "waiting for the password", factor_selection: "choosing a method", totp_setup: "setting up an authenticator app",
  webauthn_setup: "creating a passkey", email_code_setup: "adding an email address", sms_code_setup: "adding a phone",
  totp_verify: "entering an authenticator code", webauthn_verify: "using a passkey", email_code_verify: "entering an email code",
  sms_code_verify: "entering a text message code", backup_code_verify: "entering a backup code", backup_codes: "saving backup codes",
  manage: "managing their methods", done: "done", failed: "failed", expired: "expired", cancelled: "cancelled",
};
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
const stateBadge = (state) => el("span", { class: `state state-${state}`, title: state }, STATE_WORDS[state] || state);

function errorText(error) {
  if (error instanceof ApiError) return error.problem.detail || error.problem.title || error.message;
  return error.message;
}
function alertBox() { return el("p", { class: "reason", role: "alert" }); }
async function attempt(alert, job) {
  alert.textContent = "";
  try { return await job(); } catch (error) { alert.textContent = errorText(error); return undefined; }
}

// --- the frame: key, navigation ----------------------------------------------------------------

const SECTIONS = [
  { id: "mfa", name: "Multi-factor auth", admin: true, show: showMfa },
  { id: "users", name: "Users", admin: true, show: showUsers },
  { id: "organizations", name: "Organisations", admin: true, show: showOrganizations,
    offered: () => client.supports("organizations.list") },
  { id: "flows", name: "Flows", admin: false, show: showFlows },
  { id: "webhooks", name: "Webhooks", admin: true, show: showWebhooks },
  { id: "apps", name: "Apps", admin: true, show: showApps, offered: () => client.supports("oidcClients.list") },
  { id: "keys", name: "Keys", admin: false, show: showKeys },
];

function page(title, ...children) {
  main.replaceChildren(el("h1", { tabindex: "-1" }, title), ...children);
  $("h1", main).focus();
}

function askForKey(message) {
  $("#nav").hidden = true;
  $(".console").classList.add("signed-out"); // no sidebar: the form takes the whole width
  const input = el("input", { id: "key", name: "key", type: "password", autocomplete: "off", required: true });
  const alert = alertBox();
  alert.textContent = message || "";
  const form = el("form", { novalidate: true },
    el("label", { for: "key" }, "Admin or auditor key"), input,
    el("p", { class: "hint" }, "Kept in this tab only, until you close it or sign out. The auditor key opens a read-only view."),
    el("p", { class: "hint" }, "Trying it out locally? The first start wrote both keys into the data folder: ",
      el("code", {}, ".mfa-flow/admin.key"), " and ", el("code", {}, "auditor.key"), "."),
    el("button", { type: "submit", class: "primary" }, "Open the console"),
    el("p", { class: "hint" }, "The API these pages use is described in the ", el("a", { href: "/docs" }, "API reference"), "."));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    key = input.value.trim();
    client = new MfaFlowClient({ token: key });
    if (key) await open();
  });
  page(`${product} console`, alert, form);
  input.focus();
}

// Which key this is: the admin's, the auditor's (read-only), or neither.
async function identify() {
  const { role: found } = await client.whoami();
  if (found !== "admin" && found !== "auditor") throw new ApiError(401, { detail: "not a console key" });
  return found;
}

async function open() {
  try {
    role = await identify();
  } catch (error) {
    sessionStorage.removeItem(KEY);
    askForKey(error.status === 401 ? "That key is not valid." : `The service did not answer: ${errorText(error)}`);
    return;
  }
  sessionStorage.setItem(KEY, key);
  spec = await client.openapi();
  document.body.dataset.role = role;
  $("#nav").hidden = false;
  $(".console").classList.remove("signed-out");
  $("#who").replaceChildren(
    el("div", {}, role === "admin" ? "Signed in with the admin key" : "Read-only: auditor key"),
    button("Sign out", () => { sessionStorage.removeItem(KEY); key = null; location.hash = ""; askForKey(); },
      { kind: "secondary small" }));
  window.addEventListener("hashchange", route);
  route();
}

function route() {
  if (live) { live.abort(); live = null; }
  const [section, ...rest] = location.hash.replace(/^#/, "").split("/");
  const allowed = SECTIONS.filter((s) => (role === "admin" || !s.admin) && (!s.offered || s.offered()));
  const current = allowed.find((s) => s.id === section) || allowed[0];
  $("#links").replaceChildren(...allowed.map((s) => el("a", { href: `#${s.id}`,
    "aria-current": s === current ? "page" : null }, s.name)));
  current.show(...rest.map(decodeURIComponent)).catch((error) => page("Something went wrong", el("p", { class: "reason" }, errorText(error))));
}

// --- Multi-factor auth --------------------------------------------------------------------------

function option(type, name, value, checked, [title, hint], attributes = {}) {
  const id = `${name}-${value}`;
  return el("label", { class: "option", for: id },
    el("input", { type, id, name, value, checked, ...attributes }),
    el("strong", {}, title),
    el("span", { class: "hint" }, hint));
}

async function showMfa() {
  const config = await client.config.get();
  const configSchema = schema("MfaConfig");
  const factors = enumOf(configSchema.properties.factors);
  const policies = enumOf(configSchema.properties.policy);
  const devices = configSchema.properties.trusted_devices;
  const primary = PRIMARY.filter((f) => factors.includes(f));
  const policy = config.policy;

  const form = el("form", { novalidate: true, id: "mfa-form" });
  const backupReason = el("p", { class: "hint reason", id: "backup-reason" },
    "Turn on a primary factor first: backup codes cannot be a user's only second step.");
  form.append(
    el("fieldset", {}, el("legend", {}, "Primary factors"),
      el("p", { class: "hint" }, "Users set up one of these as their second step, and verify it at sign-in."),
      ...primary.map((f) => option("checkbox", "factor", f, config.factors.includes(f), FACTOR_TEXT[f] || [FACTORS[f].name, ""]))),
    factors.includes("backup_code") ? el("fieldset", {}, el("legend", {}, "Backup factors"),
      option("checkbox", "factor", "backup_code", config.factors.includes("backup_code"), FACTOR_TEXT.backup_code,
        { "aria-describedby": "backup-reason" }), backupReason) : "",
    el("fieldset", {}, el("legend", {}, "2-step verification policy"),
      ...policies.filter((p) => !(p === "user_controlled" && policies.includes("prompt_at_sign_in_and_sign_up")))
        .map((p) => option("radio", "policy", p, p === policy || (policy === "user_controlled" && p === "prompt_at_sign_in_and_sign_up"),
          POLICY_TEXT[p] || [p, ""]))),
  );
  if (devices) {
    const current = config.trusted_devices || { enabled: false, days: 30 };
    form.append(el("fieldset", {}, el("legend", {}, "Trusted devices"),
      option("checkbox", "trusted", "on", current.enabled,
        ["Let users remember a device", "After a second step on a device, users may tick \u201cremember this device\u201d and use only their password there until it expires. Never for step-up."]),
      el("div", { id: "trusted-days-field" },
        el("label", { for: "trusted-days" }, "Remember a device for (days)"),
        el("input", { id: "trusted-days", name: "days", type: "number", min: "1", max: "365", value: String(current.days), inputmode: "numeric" }))));
  }
  const adaptiveSchema = configSchema.properties.adaptive ? schema("AdaptiveConfig") : null;
  if (adaptiveSchema) {
    const current = config.adaptive || { enabled: false, rules: {} };
    const ruleNames = Object.keys(adaptiveSchema.properties.rules.properties);
    const rules = ruleNames.map((name) => {
      const [title, hint, labels] = ADAPTIVE_TEXT[name] || [name, "", {}];
      const setting = (current.rules || {})[name] || {};
      const props = adaptiveSchema.properties.rules.properties[name].properties;
      const numbers = Object.keys(labels).map((key) => el("div", {},
        el("label", { for: `adaptive-${name}-${key}` }, labels[key]),
        el("input", { id: `adaptive-${name}-${key}`, "data-rule": name, "data-key": key, type: "number", inputmode: "numeric",
          min: String(props[key].minimum), max: String(props[key].maximum), value: String(setting[key] ?? props[key].default) })));
      const networks = name === "untrusted_ip" ? [el("div", {},
        el("label", { for: "adaptive-networks" }, "Untrusted networks (CIDRs, one a line)"),
        el("textarea", { id: "adaptive-networks", rows: "3" }, (setting.networks || []).join("\n")))] : [];
      return el("div", { class: "adaptive-rule" },
        option("checkbox", "adaptive-rule", name, setting.enabled !== false, [title, hint]), ...numbers, ...networks);
    });
    form.append(el("fieldset", { id: "adaptive" }, el("legend", {}, "Adaptive MFA"),
      option("checkbox", "adaptive", "on", current.enabled,
        ["Ask users with MFA only when a risk rule fires", "Users who have set up MFA verify it only when one of the rules below fires (always under step-up, for required users and members of organisations that require MFA). Needs one of the two \u201cno skip\u201d policies. Every decision is in the flow's log with the rules that fired."]),
      ...rules));
  }
  if (configSchema.properties.passkey_sign_in) form.append(passkeySignInFieldset(config.passkey_sign_in));
  const alert = alertBox();
  const saved = el("span", { class: "copied", role: "status" });
  form.append(alert, el("button", { type: "submit", class: "primary" }, "Save"), saved);

  // Backup codes need a primary factor: with none ticked their box is off and disabled, and the
  // admin's choice comes back with the first primary factor ticked again.
  const backupBox = form.querySelector("#factor-backup_code");
  let backupWanted = config.factors.includes("backup_code");
  if (backupBox) backupBox.addEventListener("change", () => { backupWanted = backupBox.checked; });
  const trusted = form.querySelector("#trusted-on");
  const sync = () => {
    const anyPrimary = [...form.querySelectorAll("input[name=factor]")].some((b) => b.checked && b.value !== "backup_code");
    if (backupBox) {
      backupBox.disabled = !anyPrimary;
      backupBox.checked = anyPrimary && backupWanted;
      backupReason.hidden = anyPrimary;
    }
    if (trusted) form.querySelector("#trusted-days-field").hidden = !trusted.checked; // days matter only when on
    const passkeys = form.querySelector("#passkey-on");
    if (passkeys) form.querySelector("#passkey-details").hidden = !passkeys.checked;
  };
  form.addEventListener("change", sync);
  sync();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    saved.textContent = "";
    const body = {
      factors: [...form.querySelectorAll("input[name=factor]:checked")].map((b) => b.value),
      policy: form.querySelector("input[name=policy]:checked").value,
    };
    if (devices) {
      body.trusted_devices = { enabled: form.querySelector("#trusted-on").checked, days: Number(form.querySelector("#trusted-days").value) };
    }
    if (adaptiveSchema) {
      const rules = {};
      form.querySelectorAll("input[name=adaptive-rule]").forEach((box) => { rules[box.value] = { enabled: box.checked }; });
      form.querySelectorAll("#adaptive input[data-rule]").forEach((input) => { rules[input.dataset.rule][input.dataset.key] = Number(input.value); });
      const networks = form.querySelector("#adaptive-networks");
      if (networks) rules.untrusted_ip.networks = networks.value.split("\n").map((n) => n.trim()).filter(Boolean);
      body.adaptive = { enabled: form.querySelector("#adaptive-on").checked, rules };
    }
    if (form.querySelector("#passkey-on")) body.passkey_sign_in = passkeySignInBody(form);
    const answer = await attempt(alert, () => client.config.put(body));
    if (answer) saved.textContent = "Saved. New sign-ins follow these settings.";
  });
  page("Multi-factor auth", el("p", { class: "lead" }, "Choose the second steps your users may set up, and when they are asked to."),
    el("div", { class: "panel" }, form));
}

// Passkey sign-in (issue 27): a passkey as the first step, offered in the username field's autofill.
function passkeySignInFieldset(current = { enabled: false, counts_as_mfa: false, user_verification: "required" }) {
  return el("fieldset", {}, el("legend", {}, "Passkey sign-in"),
    option("checkbox", "passkey", "on", current.enabled,
      ["Let users sign in with a passkey", "The sign-in page offers passkeys in the username field (autofill) or with a button; needs Passkeys above."]),
    el("div", { id: "passkey-details" },
      option("checkbox", "passkey", "mfa", current.counts_as_mfa,
        ["A passkey counts as both steps", "With user verification (PIN or biometrics) the sign-in is done; otherwise a factor of another kind follows."]),
      option("checkbox", "passkey", "uv", current.user_verification === "required",
        ["Require user verification", "Refuse passkeys whose authenticator did not verify the user."])));
}

function passkeySignInBody(form) {
  return {
    enabled: form.querySelector("#passkey-on").checked,
    counts_as_mfa: form.querySelector("#passkey-mfa").checked,
    user_verification: form.querySelector("#passkey-uv").checked ? "required" : "preferred",
  };
}

// --- Users --------------------------------------------------------------------------------------

async function showUsers(userId) {
  if (userId) return showUser(userId);
  const alert = alertBox();
  const results = el("div", { id: "user-results" });
  const panels = [];
  if (client.supports("users.list")) {
    const search = el("input", { id: "search", name: "search", type: "search", autocomplete: "off" });
    const form = el("form", { class: "inline", role: "search" },
      el("div", {}, el("label", { for: "search" }, "Username, email or phone starts with"), search),
      el("button", { type: "submit", class: "primary" }, "Search"));
    let latest = 0; // only the answer to the last search is shown, whichever comes back first
    const find = async () => {
      const mine = ++latest;
      const found = await attempt(alert, () => client.users.list({ limit: 50, search: search.value.trim() }));
      if (found && mine === latest) results.replaceChildren(usersTable(found.items));
    };
    form.addEventListener("submit", (e) => { e.preventDefault(); find(); });
    panels.push(el("div", { class: "panel" }, el("h2", {}, "Find a user"), form, results));
    find();
  } else {
    const id = el("input", { id: "user-id", name: "user-id", autocomplete: "off" });
    const form = el("form", { class: "inline" },
      el("div", {}, el("label", { for: "user-id" }, "User id"), id), el("button", { type: "submit", class: "primary" }, "Open"));
    form.addEventListener("submit", (e) => { e.preventDefault(); location.hash = `#users/${encodeURIComponent(id.value.trim())}`; });
    panels.push(el("div", { class: "panel" }, el("h2", {}, "Open a user"),
      el("p", { class: "hint" }, "This server has no user search; open a user by id."), form));
  }
  panels.push(newUserPanel());
  page("Users", alert, ...panels);
}

function usersTable(users) {
  if (!users.length) return el("p", { class: "muted" }, "No users match.");
  return el("table", {},
    el("thead", {}, el("tr", {}, ...["Username", "Email", "Phone", "Second steps", "Status"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...users.map((u) => el("tr", {},
      el("td", {}, el("a", { href: `#users/${encodeURIComponent(u.id)}` }, u.username)),
      el("td", {}, u.email || "—"), el("td", {}, u.phone || "—"),
      el("td", {}, ((u.mfa && u.mfa.factors) || []).map((f) => FACTORS[f] ? FACTORS[f].name : f).join(", ") || "none"),
      el("td", {}, userStatus(u))))));
}

function userStatus(user) {
  const locked = user.locked_until || (user.mfa && user.mfa.locked_until);
  if (locked && Date.parse(locked) > Date.now()) return `locked until ${when(locked)}`;
  return "active";
}

function newUserPanel() {
  const fields = ["username", "password", ...["email", "phone"].filter((f) => schema("NewUser").properties && schema("NewUser").properties[f])];
  const inputs = Object.fromEntries(fields.map((f) => [f, el("input", { id: `new-${f}`, name: f, autocomplete: "off",
    type: f === "password" ? "password" : f === "email" ? "email" : f === "phone" ? "tel" : "text" })]));
  const alert = alertBox();
  const form = el("form", { novalidate: true },
    ...fields.flatMap((f) => [el("label", { for: `new-${f}` }, f[0].toUpperCase() + f.slice(1) + (f === "username" ? "" : " (optional)")), inputs[f]]),
    alert, el("button", { type: "submit", class: "primary" }, "Create the user"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = Object.fromEntries(fields.map((f) => [f, inputs[f].value.trim()]).filter(([, v]) => v));
    if (inputs.password.value) body.password = inputs.password.value;
    const user = await attempt(alert, () => client.users.create(body));
    if (user) location.hash = `#users/${encodeURIComponent(user.id)}`;
  });
  return el("div", { class: "panel" }, el("h2", {}, "Create a user"), form);
}

async function showUser(userId) {
  const [user, factors] = await Promise.all([client.users.get(userId), client.users.factors(userId)]);
  const alert = alertBox();
  const refresh = () => showUser(userId);
  const act = async (job) => { if (await attempt(alert, job) !== undefined) refresh(); };
  const facts = el("dl", {},
    el("dt", {}, "Id"), el("dd", { class: "mono" }, user.id),
    el("dt", {}, "Created"), el("dd", {}, when(user.created_at)),
    user.email !== undefined ? [el("dt", {}, "Email"), el("dd", {}, user.email || "—")] : null,
    user.phone !== undefined ? [el("dt", {}, "Phone"), el("dd", {}, user.phone || "—")] : null,
    el("dt", {}, "Status"), el("dd", {}, userStatus(user)),
    user.organizations ? [el("dt", {}, "Organisations"), el("dd", { id: "user-organizations" },
      ...(user.organizations.length ? user.organizations.flatMap((o, i) => [i ? ", " : null,
        el("a", { href: `#organizations/${encodeURIComponent(o.id)}` }, o.name)]) : ["none"]))] : null);
  const actions = [];
  const mfa = user.mfa || {};
  if (client.supports("users.update") && "required" in mfa) {
    actions.push(button(mfa.required ? "Stop requiring MFA" : "Require MFA",
      () => act(() => client.users.update(userId, { mfa: { required: !mfa.required } })), { kind: "secondary" }));
  }
  if (client.supports("users.unlock") && userStatus(user) !== "active") {
    actions.push(button("Unlock", () => act(() => client.users.unlock(userId)), { kind: "secondary" }));
  }
  if (client.supports("users.resetMfa")) {
    actions.push(button("Reset MFA", async () => {
      const sure = await confirmAction({ title: `Reset MFA for ${user.username}?`,
        says: [`Every second step of ${user.username} (${plural(factors.length, "method", "methods")}) and every device they asked to be remembered is removed.`,
          "At their next sign-in they are asked to set up a second step as a new user would be."],
        confirm: "Reset MFA" });
      if (sure) act(() => client.users.resetMfa(userId));
    }, { kind: "danger" }));
  }
  const methodName = (v) => (FACTORS[v.type] || { name: v.type }).name;
  const primaries = factors.filter((v) => v.type !== "backup_code");
  const removal = (v) => {
    const says = [v.type === "backup_code"
      ? `The ${plural(v.remaining ?? 0, "backup code", "backup codes")} ${user.username} has left stop working.`
      : `${user.username} can no longer sign in with it.`];
    if (v.type !== "backup_code" && primaries.length === 1) {
      says.push(`It is their only second step${factors.some((f) => f.type === "backup_code") ? ", so their backup codes are removed too" : ""}, and they are asked to set one up again at their next sign-in where the policy asks for one.`);
    }
    says.push("Every device they asked to be remembered is forgotten.");
    return says;
  };
  const factorRows = factors.map((v) => el("tr", {},
    el("td", {}, methodName(v)),
    el("td", {}, v.name || v.email || v.phone || (v.remaining !== undefined ? `${plural(v.remaining, "code", "codes")} left` : "—")),
    el("td", {}, when(v.created_at)), el("td", {}, v.last_used_at ? when(v.last_used_at) : "never"),
    el("td", {}, button("Remove", async () => {
      const sure = await confirmAction({ title: `Remove ${methodName(v)} of ${user.username}?`, says: removal(v), confirm: "Remove" });
      if (sure) act(() => client.users.removeFactor(userId, v.id));
    }, { kind: "danger small", "aria-label": `Remove ${methodName(v)}` }))));
  const panels = [
    el("div", { class: "panel" }, facts, actions.length ? el("div", { class: "actions" }, ...actions) : null),
    el("div", { class: "panel" }, el("h2", {}, "Second steps"),
      factors.length ? el("table", {}, el("thead", {}, el("tr", {}, ...["Method", "Detail", "Added", "Last used", ""].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...factorRows)) : el("p", { class: "muted" }, "None set up.")),
  ];
  if (client.supports("users.signIns")) {
    panels.push(await signInsPanel(userId));
  }
  if (client.supports("users.trustedDevices")) {
    const list = await client.users.trustedDevices(userId);
    panels.push(el("div", { class: "panel" }, el("h2", {}, "Trusted devices"),
      list.length ? el("table", {}, el("thead", {}, el("tr", {}, ...["Device", "Trusted", "Expires", ""].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...list.map((d) => el("tr", {}, el("td", {}, d.name || d.user_agent || d.id), el("td", {}, when(d.created_at)),
          el("td", {}, when(d.expires_at)),
          el("td", {}, button("Revoke", async () => {
            const sure = await confirmAction({ title: "Revoke this device?",
              says: [`At the next sign-in there, ${user.username} is asked for a second step again.`], confirm: "Revoke" });
            if (sure) act(() => client.users.revokeTrustedDevices(userId, d.id));
          }, { kind: "danger small" }))))))
        : el("p", { class: "muted" }, "None.")));
  }
  page(user.username, alert, ...panels);
}

// The user's successful sign-ins, newest first (adaptive MFA's history), a page at a time.
async function signInsPanel(userId) {
  const body = el("tbody", {});
  const more = el("div", { class: "actions" });
  const place = (s) => [s.city, s.region, s.country].filter(Boolean).join(", ") || "—";
  const position = (s) => (s.latitude === null || s.latitude === undefined ? "—" : `${s.latitude.toFixed(2)}, ${s.longitude.toFixed(2)}`);
  const load = async (after) => {
    const found = await client.users.signIns(userId, after ? { after, limit: 20 } : { limit: 20 });
    for (const s of found.items) {
      body.append(el("tr", {}, el("td", {}, when(s.at)), el("td", {}, place(s)), el("td", {}, position(s)),
        el("td", { class: "mono", title: s.device || "" }, s.device ? s.device.slice(0, 8) : "—"),
        el("td", {}, el("a", { href: `#flows/${s.flow_id}`, class: "mono" }, s.flow_id.slice(0, 8)))));
    }
    more.replaceChildren(...(found.next ? [button("Older sign-ins", () => load(found.next), { kind: "secondary small" })] : []));
    return found.items.length;
  };
  const count = await load(null);
  return el("div", { class: "panel", id: "sign-ins" }, el("h2", {}, "Recent sign-ins"),
    el("p", { class: "hint" }, "Successful sign-ins with where they came from, as adaptive MFA compares them; kept for the history's retention (MFA_FLOW_SIGN_IN_HISTORY_DAYS)."),
    count ? el("table", {}, el("thead", {}, el("tr", {}, ...["When", "Where", "Position", "Device", "Flow"].map((h) => el("th", { scope: "col" }, h)))), body)
      : el("p", { class: "muted" }, "None kept."),
    more);
}

// --- Organisations ------------------------------------------------------------------------------

const REQUIRE_MFA_TEXT = ["Require MFA of its members",
  "Each member sets up a second step without being able to skip it, and verifies it at every sign-in, whatever the policy or adaptive MFA says (as Require MFA on a user does)."];

// "Show more" under a list that pages: appends the next page's rows to the table's body.
function moreButton(next, load, tbody, row) {
  if (!next) return null;
  let cursor = next;
  const more = button("Show more", async () => {
    const found = await load(cursor);
    tbody.append(...found.items.map(row));
    cursor = found.next;
    if (!cursor) more.remove();
  }, { kind: "secondary small" });
  return more;
}

async function showOrganizations(organizationId) {
  if (organizationId) return showOrganization(organizationId);
  const load = (after) => client.organizations.list({ limit: 50, after });
  const first = await load();
  const row = (o) => el("tr", {},
    el("td", {}, el("a", { href: `#organizations/${encodeURIComponent(o.id)}` }, o.name)),
    el("td", {}, o.require_mfa ? "required" : "as the policy says"), el("td", {}, when(o.created_at)));
  const tbody = el("tbody", {}, ...first.items.map(row));
  const name = el("input", { id: "organization-name", name: "name", autocomplete: "off", maxlength: 100 });
  const alert = alertBox();
  const form = el("form", { novalidate: true },
    ...field("organization-name", "Name", name, "Unique, whatever its case; at most 100 characters."),
    option("checkbox", "require_mfa", "on", false, REQUIRE_MFA_TEXT),
    alert, el("button", { type: "submit", class: "primary" }, "Create the organisation"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { name: name.value, require_mfa: form.querySelector("input[name=require_mfa]").checked };
    const created = await attempt(alert, () => client.organizations.create(body));
    if (created) location.hash = `#organizations/${encodeURIComponent(created.id)}`;
  });
  page("Organisations",
    el("p", { class: "lead" }, "Groups of users. An organisation that requires MFA makes it mandatory for its members, whatever the policy."),
    el("div", { class: "panel" }, el("h2", {}, "All organisations"),
      first.items.length ? [el("table", {}, el("thead", {}, el("tr", {}, ...["Name", "MFA for members", "Created"].map((h) => el("th", { scope: "col" }, h)))), tbody),
        moreButton(first.next, load, tbody, row)] : el("p", { class: "muted" }, "No organisations yet.")),
    el("div", { class: "panel" }, el("h2", {}, "Create an organisation"), form));
}

async function showOrganization(organizationId) {
  const loadMembers = (after) => client.organizations.members(organizationId, { limit: 50, after });
  const [org, members] = await Promise.all([client.organizations.get(organizationId), loadMembers()]);
  const alert = alertBox();
  const refresh = () => showOrganization(organizationId);
  const act = async (job) => { if (await attempt(alert, job) !== undefined) refresh(); };

  const name = el("input", { id: "organization-name", name: "name", autocomplete: "off", maxlength: 100, value: org.name });
  const rename = el("form", { class: "inline", novalidate: true },
    el("div", {}, el("label", { for: "organization-name" }, "Name"), name),
    el("button", { type: "submit", class: "secondary" }, "Rename"));
  rename.addEventListener("submit", (e) => { e.preventDefault(); act(() => client.organizations.update(organizationId, { name: name.value })); });
  const toggle = button(org.require_mfa ? "Stop requiring MFA" : "Require MFA of its members",
    () => act(() => client.organizations.update(organizationId, { require_mfa: !org.require_mfa })), { kind: "secondary" });
  const remove = button("Delete the organisation", async () => {
    const sure = await confirmAction({ title: `Delete ${org.name}?`, confirm: "Delete the organisation",
      says: [`Its ${plural(members.items.length + (members.next ? 1 : 0), "member", "members")}${members.next ? " or more" : ""} leave it; the users themselves stay.`,
        org.require_mfa ? "Members no longer need MFA because of it: the policy (or their own settings) decides again." : null] });
    if (sure && await attempt(alert, () => client.organizations.delete(organizationId)) !== undefined) location.hash = "#organizations";
  }, { kind: "danger" });

  const row = (u) => el("tr", {},
    el("td", {}, el("a", { href: `#users/${encodeURIComponent(u.id)}` }, u.username)),
    el("td", {}, ((u.mfa && u.mfa.factors) || []).map((f) => FACTORS[f] ? FACTORS[f].name : f).join(", ") || "none"),
    el("td", {}, button("Remove", async () => {
      const sure = await confirmAction({ title: `Remove ${u.username} from ${org.name}?`, confirm: "Remove",
        says: [org.require_mfa ? `${u.username} no longer needs MFA because of ${org.name}.` : `${u.username} stays a user.`] });
      if (sure) act(() => client.organizations.removeMember(organizationId, u.id));
    }, { kind: "danger small", "aria-label": `Remove ${u.username}` })));
  const tbody = el("tbody", {}, ...members.items.map(row));

  const who = el("input", { id: "member", name: "member", autocomplete: "off" });
  const add = el("form", { class: "inline", novalidate: true },
    el("div", {}, el("label", { for: "member" }, "Username or user id"), who),
    el("button", { type: "submit", class: "primary" }, "Add the member"));
  add.addEventListener("submit", (e) => {
    e.preventDefault();
    act(async () => {
      const text = who.value.trim();
      // A username when one matches exactly; else the text is taken as a user id.
      const found = client.supports("users.list") ? (await client.users.list({ search: text, limit: 50 })).items : [];
      const user = found.find((u) => u.username === text);
      return client.organizations.addMember(organizationId, user ? user.id : text);
    });
  });

  page(org.name,
    el("p", {}, el("a", { href: "#organizations" }, "← All organisations")),
    el("div", { class: "panel" },
      el("dl", {}, el("dt", {}, "Id"), el("dd", { class: "mono" }, org.id), el("dt", {}, "Created"), el("dd", {}, when(org.created_at)),
        el("dt", {}, "MFA for members"), el("dd", { id: "organization-mfa" }, org.require_mfa ? "required at every sign-in" : "as the policy says")),
      el("p", { class: "hint" }, REQUIRE_MFA_TEXT[1]),
      alert, rename, el("div", { class: "actions" }, toggle, remove)),
    el("div", { class: "panel" }, el("h2", {}, "Members"),
      members.items.length ? [el("table", {}, el("thead", {}, el("tr", {}, ...["Username", "Second steps", ""].map((h) => el("th", { scope: "col" }, h)))), tbody),
        moreButton(members.next, loadMembers, tbody, row)] : el("p", { class: "muted" }, "No members yet."),
      add));
}

// --- Flows --------------------------------------------------------------------------------------

// A flow's user by name (the flow carries the username since its first factor held), linked to
// the user's page; "—" before anyone is known.
function userLink(flow) {
  if (!flow.user_id) return "—";
  const link = el("a", { href: `#users/${encodeURIComponent(flow.user_id)}`, title: flow.user_id }, flow.username || flow.user_id);
  return role === "admin" ? link : el("span", { title: flow.user_id }, flow.username || flow.user_id);
}

async function showFlows(flowId) {
  if (flowId) return showFlow(flowId);
  const rows = new Map();
  const body = el("tbody", { id: "flow-rows" });
  const status = el("p", { class: "hint", role: "status", id: "live-status" }, "Connecting…");
  const render = (flow) => {
    const row = el("tr", { "data-flow": flow.id },
      el("td", {}, when(flow.created_at)),
      el("td", {}, el("a", { href: `#flows/${flow.id}`, class: "mono" }, flow.id.slice(0, 8))),
      el("td", {}, userLink(flow)),
      el("td", {}, stateBadge(flow.state)), el("td", {}, String(flow.version)), el("td", {}, when(flow.updated_at)));
    const old = rows.get(flow.id);
    if (old) old.replaceWith(row); else body.prepend(row);
    rows.set(flow.id, row);
  };
  const load = async () => {
    const recent = await client.flows.list({ limit: 50 });
    for (const flow of recent.items.reverse()) render(flow);
  };
  page("Flows",
    el("p", { class: "lead" }, "Sign-ins as they happen, newest first. Open one to see its timeline and check its audit chain."),
    el("div", { class: "panel" }, status,
      el("table", {}, el("thead", {}, el("tr", {}, ...["Started", "Flow", "User", "Where it is", "Version", "Last change"].map((h) => el("th", { scope: "col" }, h)))), body)));
  const controller = new AbortController();
  live = controller;
  // The stream first, then the list once it is open (the server subscribed before it
  // answered): no change in between is missed. Reconnects, and reads the list again, if cut.
  const connect = async () => {
    try {
      await client.flows.watchAll({
        signal: controller.signal,
        onOpen: async () => {
          await load();
          status.textContent = "Live: new sign-ins and changes appear here as they happen.";
          document.body.dataset.live = "on";
        },
        onFlow: render,
        onResync: load,
      });
    } catch { /* cut, or left the page */ }
    if (!controller.signal.aborted) {
      status.textContent = "Reconnecting…";
      document.body.dataset.live = "off";
      setTimeout(connect, 2000);
    }
  };
  connect();
}

// Adaptive MFA's decision in words: the rules that fired, each with its numbers, and those that
// had no signal to go on.
const FIRED_WORDS = {
  new_country: (f) => `a country not seen in the user's sign-ins of the last ${f.days} days (${plural(f.countries_seen, "country", "countries")} seen)`,
  geo_velocity: (f) => `travel at ${f.speed_kmh} km/h since the last sign-in (${f.distance_km} km in ${f.hours} h)`,
  long_inactivity: (f) => `no sign-in for ${f.days} days`,
  untrusted_ip: (f) => (f.score !== undefined ? `a bot score of ${f.score}, under ${f.min_score}` : `an address in untrusted network no. ${f.network + 1}`),
  new_device: (f) => `a device not seen in the user's sign-ins (${plural(f.devices_seen, "device", "devices")} known)`,
  failure_burst: (f) => `${f.failures} failed attempts within ${f.minutes} minutes`,
};
function adaptiveWords(adaptive) {
  const title = (name) => (ADAPTIVE_TEXT[name] || [name])[0].toLowerCase();
  const fired = adaptive.fired || [];
  const said = fired.length
    ? `Adaptive MFA asked for a second step: ${fired.map((f) => `${title(f.rule)}, ${(FIRED_WORDS[f.rule] || (() => JSON.stringify(f)))(f)}`).join("; ")}.`
    : `Adaptive MFA found no risk (${plural((adaptive.evaluated || []).length, "rule", "rules")} checked).`;
  const missing = (adaptive.missing || []).length ? ` No signal for: ${adaptive.missing.map(title).join(", ")}.` : "";
  return el("div", { class: "details adaptive" }, said + missing);
}

async function showFlow(flowId) {
  const [flow, rows] = await Promise.all([client.flows.get(flowId), client.flows.transitions(flowId)]);
  const check = await verifyChain(rows);
  const verdict = check.ok
    ? el("p", { class: "verified", id: "chain" }, `✓ Chain verified in this browser: ${plural(check.rows, "transition", "transitions")}, each hash recomputed with SHA-256.`)
    : el("p", { class: "broken", id: "chain" }, `✗ Chain broken at transition ${check.seq}: ${check.reason}.`);
  const timeline = el("ol", { id: "timeline", class: "timeline" }, ...rows.map((r) => {
    const { rule, guard, adaptive, ...rest } = r.data || {};
    return el("li", {},
      el("div", { class: "step" }, el("strong", { class: "event" }, r.event), " ",
        el("span", { class: "move" }, `${r.from_state} → ${r.to_state}`)),
      el("div", { class: "facts" }, el("time", { datetime: r.at }, new Date(r.at).toLocaleTimeString()),
        ` · by ${r.actor} · rule `, el("span", { class: "rule" }, rule || guard || "—")),
      Object.keys(rest).length ? el("div", { class: "details" },
        Object.entries(rest).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join(" · ")) : null,
      adaptive ? adaptiveWords(adaptive) : null,
      el("div", { class: "details mono", title: r.hash }, `hash ${r.hash.slice(0, 16)}…`));
  }));
  page(`Flow ${flowId.slice(0, 8)}`,
    el("p", {}, el("a", { href: "#flows" }, "← All flows")),
    el("div", { class: "panel" },
      el("dl", {}, el("dt", {}, "Id"), el("dd", { class: "mono" }, flow.id),
        el("dt", {}, "User"), el("dd", {}, userLink(flow)),
        el("dt", {}, "Where it is"), el("dd", {}, stateBadge(flow.state)),
        el("dt", {}, "Started"), el("dd", {}, when(flow.created_at)),
        flow.result ? [el("dt", {}, "Proved"), el("dd", {}, (flow.result.amr || []).join(", "))] : null),
      verdict),
    el("div", { class: "panel" }, el("h2", {}, "Timeline"), timeline));
}

// --- Webhooks -----------------------------------------------------------------------------------

async function showWebhooks(webhookId) {
  if (webhookId) return showWebhook(webhookId);
  const hooks = await client.webhooks.list();
  const events = enumOf(schema("NewWebhook").properties.events);
  const url = el("input", { id: "hook-url", name: "url", type: "url", autocomplete: "off", placeholder: "https://example.com/hooks" });
  const alert = alertBox();
  const secret = el("div", { role: "status" });
  const form = el("form", { novalidate: true },
    el("label", { for: "hook-url" }, "Endpoint URL"), url,
    el("fieldset", {}, el("legend", {}, "Events"),
      ...events.map((e) => option("checkbox", "event", e, e === "*", [e === "*" ? "Every event" : e, ""]))),
    alert, el("button", { type: "submit", class: "primary" }, "Add the endpoint"), secret);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const chosen = [...form.querySelectorAll("input[name=event]:checked")].map((b) => b.value);
    const created = await attempt(alert, () => client.webhooks.create({ url: url.value.trim(), events: chosen }));
    if (created) {
      await showWebhooks();
      main.append(secretOnce(created.secret));
    }
  });
  page("Webhooks",
    el("div", { class: "panel" }, el("h2", {}, "Endpoints"),
      hooks.length ? el("table", {}, el("thead", {}, el("tr", {}, ...["URL", "Events", "State", "Added"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...hooks.map((h) => el("tr", {},
          el("td", {}, el("a", { href: `#webhooks/${h.id}` }, h.url)), el("td", {}, h.events.join(", ")),
          el("td", {}, h.enabled ? "on" : `off${h.disabled_reason ? `: ${h.disabled_reason}` : ""}`), el("td", {}, when(h.created_at))))))
        : el("p", { class: "muted" }, "No endpoints yet.")),
    el("div", { class: "panel" }, el("h2", {}, "Add an endpoint"), form));
}

function secretOnce(secret) {
  return el("div", { class: "panel", role: "status" }, el("h2", {}, "Signing secret (shown once)"),
    el("pre", { class: "secret-once" }, secret),
    el("p", { class: "hint" }, "Verify each delivery's webhook-signature with it (Standard Webhooks)."));
}

async function showWebhook(webhookId) {
  const [hook, deliveries] = await Promise.all([client.webhooks.get(webhookId), client.webhooks.deliveries(webhookId, { limit: 50 })]);
  const alert = alertBox();
  const rotate = button("Rotate the secret", async () => {
    const rotated = await attempt(alert, () => client.webhooks.rotateSecret(webhookId));
    if (rotated) { await showWebhook(webhookId); main.append(secretOnce(rotated.secret)); }
  }, { kind: "secondary" });
  const remove = button("Delete the endpoint", async () => {
    const sure = await confirmAction({ title: "Delete this endpoint?",
      says: [`No more events go to ${hook.url}.`, "Its deliveries, those still waiting included, are deleted with it."],
      confirm: "Delete the endpoint" });
    if (sure && await attempt(alert, () => client.webhooks.delete(webhookId)) !== undefined) location.hash = "#webhooks";
  }, { kind: "danger" });
  page(hook.url,
    el("p", {}, el("a", { href: "#webhooks" }, "← All endpoints")),
    el("div", { class: "panel" }, el("p", {}, `Events: ${hook.events.join(", ")}`),
      hook.previous_secret_expires_at ? el("p", { class: "hint" }, `The previous secret also signs until ${when(hook.previous_secret_expires_at)}.`) : null,
      alert, el("div", { class: "actions" }, rotate, remove)),
    el("div", { class: "panel" }, el("h2", {}, "Deliveries"),
      deliveries.items.length ? el("table", {}, el("thead", {}, el("tr", {}, ...["Event", "Status", "Attempts", "Last attempt", "Answer", ""].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...deliveries.items.map((d) => el("tr", {},
          el("td", {}, d.type), el("td", {}, d.status), el("td", {}, String(d.attempts)), el("td", {}, when(d.last_attempt_at)),
          el("td", {}, d.last_status ? String(d.last_status) : (d.last_error || "—")),
          el("td", {}, d.status === "succeeded" ? "" : button("Retry", async () => {
            if (await attempt(alert, () => client.webhooks.retry(webhookId, d.id)) !== undefined) showWebhook(webhookId);
          }, { kind: "secondary small" }))))))
        : el("p", { class: "muted" }, "Nothing delivered yet.")));
}

// --- Apps (OpenID Connect clients) -------------------------------------------------------------

const KIND_TEXT = {
  asserting: ["Checks passwords itself", "The app's backend pushes the request (PAR) naming the user whose password it checked; mfa-flow runs the second step."],
  sign_in: ["Signs in with mfa-flow", "mfa-flow asks for the password too, then the second step."],
};

function field(id, label, input, hint) {
  return [el("label", { for: id }, label), hint ? el("p", { class: "hint" }, hint) : null, input];
}

function choice(id, values, selected) {
  return el("select", { id, name: id }, ...values.map((v) => el("option", { value: v, selected: v === selected }, v)));
}

async function showApps(clientId) {
  if (clientId) return showApp(clientId);
  const { items } = await client.oidcClients.list();
  const registration = schema("NewOidcClient").properties;
  const name = el("input", { id: "app-name", name: "name", autocomplete: "off" });
  const uris = el("textarea", { id: "app-uris", name: "redirect_uris", rows: 2, placeholder: "https://app.example/callback" });
  const method = choice("app-method", enumOf(registration.token_endpoint_auth_method), "client_secret_basic");
  const alg = choice("app-alg", enumOf(registration.id_token_signed_response_alg), "RS256");
  const alert = alertBox();
  const form = el("form", { novalidate: true, id: "app-form" },
    ...field("app-name", "Name", name, "Shown on the sign-in page: “Signing in to continue to …”."),
    el("fieldset", {}, el("legend", {}, "Kind"),
      ...enumOf(registration.kind).map((k) => option("radio", "kind", k, k === "asserting", KIND_TEXT[k] || [k, ""]))),
    ...field("app-uris", "Redirect URIs", uris, "One per line, compared exactly: https, or http on localhost."),
    ...field("app-method", "Client authentication", method),
    ...field("app-alg", "ID token signature", alg, "RS256 is what every OpenID Connect library accepts."),
    alert, el("button", { type: "submit", class: "primary" }, "Register the app"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      name: name.value.trim(), kind: form.querySelector("input[name=kind]:checked").value,
      redirect_uris: uris.value.split("\n").map((u) => u.trim()).filter(Boolean),
      token_endpoint_auth_method: method.value, id_token_signed_response_alg: alg.value,
    };
    if (body.token_endpoint_auth_method === "private_key_jwt") {
      alert.textContent = "Register a private_key_jwt app with its public keys (jwks) through the API.";
      return;
    }
    const created = await attempt(alert, () => client.oidcClients.create(body));
    if (created) {
      await showApps();
      $(".lead", main).after(clientSecretOnce(created));  // first thing seen: it is shown only now
    }
  });
  page("Apps",
    el("p", { class: "lead" }, "Apps that add ", product, " as their sign-in's second step with OpenID Connect. Discovery: ",
      el("code", {}, client.discoveryUrl())),
    el("div", { class: "panel" }, el("h2", {}, "Registered apps"),
      items.length ? el("table", {}, el("thead", {}, el("tr", {}, ...["Name", "Kind", "Client id", "Redirect URIs"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...items.map((c) => el("tr", {},
          el("td", {}, el("a", { href: `#apps/${encodeURIComponent(c.client_id)}` }, c.name)), el("td", {}, c.kind),
          el("td", { class: "mono" }, c.client_id), el("td", {}, c.redirect_uris.join(" "))))))
        : el("p", { class: "muted" }, "No apps yet.")),
    el("div", { class: "panel" }, el("h2", {}, "Register an app"), form));
}

function clientSecretOnce(app) {
  return el("div", { class: "panel", role: "status", id: "client-secret" }, el("h2", {}, "Client credentials (the secret is shown once)"),
    el("p", {}, "Client id: ", el("code", {}, app.client_id)),
    el("pre", { class: "secret-once" }, app.client_secret),
    el("p", { class: "hint" }, `Give both to the app (${app.token_endpoint_auth_method}). ${product} keeps only a digest of the secret.`));
}

async function showApp(clientId) {
  const app = await client.oidcClients.get(clientId);
  const alert = alertBox();
  const usesSecret = app.token_endpoint_auth_method !== "private_key_jwt";
  const rotate = usesSecret ? button("Rotate the secret", async () => {
    const rotated = await attempt(alert, () => client.oidcClients.rotateSecret(clientId));
    if (rotated) { await showApp(clientId); main.append(clientSecretOnce(rotated)); }
  }, { kind: "secondary" }) : null;
  const remove = button("Delete the app", async () => {
    const sure = await confirmAction({ title: `Delete ${app.name}?`, confirm: "Delete the app",
      says: ["The app can no longer sign anyone in: its pending sign-ins, codes and access tokens stop working.",
        "Registering it again gives it a new client id and secret."] });
    if (sure && await attempt(alert, () => client.oidcClients.delete(clientId)) !== undefined) location.hash = "#apps";
  }, { kind: "danger" });
  const facts = [["Client id", app.client_id], ["Kind", app.kind], ["Redirect URIs", app.redirect_uris.join(" ")],
    ["Client authentication", app.token_endpoint_auth_method], ["ID token signature", app.id_token_signed_response_alg],
    ["Registered", when(app.created_at)]];
  page(app.name,
    el("p", {}, el("a", { href: "#apps" }, "← All apps")),
    el("div", { class: "panel" }, el("dl", {}, ...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
      app.previous_secret_expires_at ? el("p", { class: "hint" }, `The previous secret also works until ${when(app.previous_secret_expires_at)}.`) : null,
      alert, el("div", { class: "actions" }, rotate, remove)));
}

// --- Keys ---------------------------------------------------------------------------------------

async function showKeys() {
  const jwks = await client.jwks();
  const checkpoints = await client.audit.checkpoints({ limit: 1000 });
  let log = null;
  // Tree heads are signed with the checkpoints: before the first one there is none to ask for.
  if (checkpoints.items.length) {
    try { log = await client.audit.log(); } catch (error) { if (error.status !== 404) throw error; }
  }
  const latest = checkpoints.items.slice(-20).reverse();
  page("Keys",
    el("p", { class: "lead" }, "The keys that sign result tokens, ID tokens (RSA, P-256, Ed25519), audit checkpoints and tree heads (Ed25519). Rotate them with mfa-flow keys rotate."),
    el("div", { class: "panel" }, el("h2", {}, "Signing keys in use"),
      el("table", {}, el("thead", {}, el("tr", {}, ...["Key id", "Algorithm", "Type"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...jwks.keys.map((k) => el("tr", {}, el("td", { class: "mono" }, k.kid),
          el("td", {}, k.alg || (k.crv === "Ed25519" ? "Ed25519, EdDSA" : "—")), el("td", {}, k.crv || `${k.kty}`)))))),
    el("div", { class: "panel" }, el("h2", {}, "Latest tree head"),
      log ? [el("p", {}, `Log ${log.origin}; verifier key:`), el("pre", { class: "secret-once" }, log.verifier_key),
        el("pre", { class: "secret-once", id: "tree-head" }, log.checkpoint)]
        : el("p", { class: "muted" }, "No tree head signed yet: the service signs one on its schedule.")),
    el("div", { class: "panel" }, el("h2", {}, "Checkpoints"),
      latest.length ? el("table", {}, el("thead", {}, el("tr", {}, ...["#", "Rows", "Signed", "Key", "Running hash"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...latest.map((c) => el("tr", {}, el("td", {}, String(c.id)), el("td", {}, String(c.rows)), el("td", {}, when(c.at)),
          el("td", { class: "mono" }, c.kid), el("td", { class: "mono", title: c.running_hash }, c.running_hash.slice(0, 16))))))
        : el("p", { class: "muted" }, "No checkpoint yet.")));
}

if (key) open(); else askForKey();
