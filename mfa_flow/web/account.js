// The account page: the person signs in here, then manages their own sign-in methods in an
// account flow (POST /api/flows with purpose "manage" and the sign-in's result token). Every
// change is an event of that flow, so it is in the audit log like a sign-in.

import { $, button, confirmAction, deviceId, el, factorName, plural, product, service } from "./common.js";
import { FlowUI } from "./flow-ui.js";

const when = (iso) => (iso ? new Date(iso).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" }) : null);
const ADD_WORDS = { totp: "Add an authenticator app", webauthn: "Add a passkey", email_code: "Add an email address",
  sms_code: "Add a phone number" };

function describe(factor) {
  if (factor.type === "webauthn") return factor.name || "Passkey";
  if (factor.type === "backup_code") return `${plural(factor.remaining ?? 0, "code", "codes")} left`;
  return factor.email || factor.phone || "";
}

// What removing a factor does, in the person's words: the service's rules (a last primary
// factor takes the backup codes with it; any removal forgets remembered devices).
function removalWords(factor, account) {
  const factors = account.factors || [];
  const devices = account.trusted_devices || 0;
  const forgets = devices ? `${plural(devices, "remembered device", "remembered devices")} will be forgotten, and will ask for a second step again.` : null;
  if (factor.type === "backup_code") {
    return { title: "Remove your backup codes?", says: [`The ${plural(factor.remaining ?? 0, "code", "codes")} you have left will stop working.`, forgets] };
  }
  const primaries = factors.filter((f) => f.type !== "backup_code");
  const hasCodes = factors.some((f) => f.type === "backup_code");
  const what = factor.type === "webauthn" ? `the passkey \u201c${describe(factor)}\u201d` : `your ${factorName(factor.type).toLowerCase()}${describe(factor) ? ` (${describe(factor)})` : ""}`;
  const says = [`You will no longer be able to sign in with ${what}.`];
  if (primaries.length === 1) {
    says.push(`It is your only second step${hasCodes ? ", so your backup codes will be removed too" : ""}: until you add another, your password alone signs you in.`);
  }
  says.push(forgets);
  return { title: `Remove ${factor.type === "webauthn" ? "this passkey" : `your ${factorName(factor.type).toLowerCase()}`}?`, says };
}

function manageView(flow) {
  const account = flow.challenge || {};
  const factors = account.factors || [];
  const allowed = new Set(flow.allowed_events);
  const rows = factors.map((factor) => {
    const name = factorName(factor.type);
    const used = when(factor.last_used_at);
    const tools = [];
    if (factor.type === "webauthn" && allowed.has("rename_factor")) {
      tools.push(button("Rename", () => renameForm(this, factor, item), { kind: "secondary small", "aria-label": `Rename ${describe(factor)}` }));
    }
    if (factor.type === "backup_code" && allowed.has("regenerate_backup_codes")) {
      tools.push(button("Get new codes", async () => {
        const sure = await confirmAction({ title: "Get new backup codes?",
          says: [`The ${plural(factor.remaining ?? 0, "code", "codes")} you have left will stop working at once.`,
            "The new codes are shown only once: have somewhere ready to save them."],
          confirm: "Get new codes", back: "Keep my codes" });
        if (sure) this.send({ type: "regenerate_backup_codes" });
      }, { kind: "secondary small" }));
    }
    if (allowed.has("remove_factor")) {
      tools.push(button("Remove", async () => {
        const { title, says } = removalWords(factor, account);
        if (await confirmAction({ title, says, confirm: "Remove", back: "Keep it" })) this.send({ type: "remove_factor", verification_id: factor.id });
      }, { kind: "danger small", "aria-label": `Remove ${name}` }));
    }
    const item = el("li", { class: "method", "data-type": factor.type },
      el("div", {}, el("strong", {}, name), describe(factor) ? ` · ${describe(factor)}` : ""),
      el("div", { class: "hint" }, [`Added ${when(factor.created_at)}`, used ? `last used ${used}` : "never used"].join(", ")),
      el("div", { class: "tools" }, ...tools));
    return item;
  });
  const adds = (account.addable_factors || []).filter(() => allowed.has("add_factor"))
    .map((factor) => button(ADD_WORDS[factor] || `Add ${factorName(factor)}`, () => this.send({ type: "add_factor", factor }), { kind: "secondary" }));
  if (allowed.has("regenerate_backup_codes") && !factors.some((f) => f.type === "backup_code")) {
    adds.push(button("Get backup codes", () => this.send({ type: "regenerate_backup_codes" }), { kind: "secondary" }));
  }
  const body = [
    el("h2", {}, "Your sign-in methods"),
    rows.length ? el("ul", { class: "methods", id: "methods" }, ...rows) : el("p", { class: "muted", id: "methods" }, "No second step is set up yet."),
  ];
  if (adds.length) body.push(el("h2", {}, "Add a method"), el("div", { class: "tools" }, ...adds));
  // Whether a second step is asked for matters once there is one to ask for. Opting out is
  // offered only where the policy allows it (opt_out_allowed); opting back in, always.
  if (allowed.has("set_mfa_enabled") && factors.some((f) => f.type !== "backup_code")) {
    const enabled = account.mfa_enabled ?? !(account.skip_on_sign_in ?? false);
    body.push(el("h2", {}, "Second step at sign-in"),
      el("p", { id: "second-step" }, enabled ? "You are asked for a second step each time you sign in." : "You sign in with your password only."));
    if (!enabled) {
      body.push(button("Ask me each time", () => this.send({ type: "set_mfa_enabled", enabled: true }), { kind: "secondary" }));
    } else if (account.opt_out_allowed !== false) {
      body.push(button("Stop asking me", () => this.send({ type: "set_mfa_enabled", enabled: false }), { kind: "secondary" }));
    } else {
      body.push(el("p", { class: "hint", id: "opt-out-refused" }, `${product} requires a second step at every sign-in, so it cannot be turned off.`));
    }
  }
  if (allowed.has("revoke_trusted_devices") && account.trusted_devices !== 0) {
    body.push(el("h2", {}, "Remembered devices"),
      el("p", {}, "Devices where you chose \u201cremember this device\u201d skip the second step."),
      button("Forget all remembered devices", async () => {
        const count = account.trusted_devices;
        const sure = await confirmAction({ title: "Forget your remembered devices?",
          says: [`${count ? plural(count, "device", "devices") : "Every remembered device"} will ask for a second step at the next sign-in, this one included.`],
          confirm: "Forget them", back: "Keep them" });
        if (sure) this.send({ type: "revoke_trusted_devices" });
      }, { kind: "secondary" }));
  }
  // Where and when the person signed in lately: a sign-in they do not recognise is a reason to
  // change their password and review their methods.
  const recent = account.recent_sign_ins || [];
  if (recent.length) {
    body.push(el("h2", {}, "Recent sign-ins"),
      el("ul", { class: "methods", id: "recent-sign-ins" }, ...recent.map((s) => el("li", {},
        el("div", {}, el("strong", {}, [s.city, s.region, s.country].filter(Boolean).join(", ") || "Place unknown")),
        el("div", { class: "hint" }, new Date(s.at).toLocaleString())))),
      el("p", { class: "hint" }, "Not you? Change your password, and check the methods above."));
  }
  return {
    title: "Your account",
    lead: `Manage how you prove it is you when you sign in to ${product}.`,
    body,
    actions: allowed.has("finish") ? [button("Done", () => this.send({ type: "finish" }))] : [],
  };
}

function renameForm(ui, factor, item) {
  const input = el("input", { id: "passkey-name", name: "passkey-name", value: factor.name || "", maxlength: "64", required: true });
  const form = el("form", { class: "inline", novalidate: true },
    el("div", {}, el("label", { for: "passkey-name" }, "New name"), input),
    el("button", { type: "submit", class: "primary" }, "Save"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    ui.send({ type: "rename_factor", verification_id: factor.id, name: input.value.trim() }, form);
  });
  item.append(form);
  input.focus();
}

const ui = new FlowUI($("#flow"), {
  views: {
    manage: manageView,
    done(flow) {
      if (flow.purpose === "manage") {
        return { title: "Your changes are saved", lead: "Your sign-in methods are up to date.",
          body: [el("p", { id: "saved" }, "Next time you sign in, use any of the methods you kept.")],
          actions: [button("Make more changes", () => ui.begin({ device_id: deviceId() }))] };
      }
      return { title: "Opening your account…", body: [] };
    },
  },
  // A sign-in on this page ends in its account flow, opened with the sign-in's result token.
  onFinished(flow) {
    if (flow.state === "done" && flow.purpose !== "manage" && flow.result && flow.result.token) {
      ui.start({ purpose: "manage", subject_token: flow.result.token });
    }
  },
});

// A server without account flows (an older release) says so instead of failing after sign-in.
const spec = await service.openapi();
const creation = spec.components.schemas.CreateFlow || {};
if (creation.properties && creation.properties.purpose) {
  ui.begin({ device_id: deviceId() });
} else {
  $("#flow").replaceChildren(el("h1", {}, "Your account"),
    el("p", { class: "lead" }, "This server does not offer account settings yet. Ask your administrator."));
}
