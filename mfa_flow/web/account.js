// The account page: the person signs in here, then manages their own sign-in methods in an
// account flow (POST /api/flows with purpose "manage" and the sign-in's result token). Every
// change is an event of that flow, so it is in the audit log like a sign-in.

// Its words come from the same catalogues as the sign-in page's (i18n.js): dates and numbers are
// written as the page's locale writes them.

import { $, button, confirmAction, deviceId, el, factorName, product, service } from "./common.js";
import { FlowUI } from "./flow-ui.js";
import { formatDate, formatDateTime, languagePicker, t, title, tn } from "./i18n.js";

title("account.page_title", { product });
$("header.brand").append(languagePicker(el));

const when = (iso) => (iso ? formatDate(iso) : null);
// The words of each "Add ..." button, by factor.
const ADD_WORDS = { totp: () => t("account.add.totp"), webauthn: () => t("account.add.webauthn"),
  email_code: () => t("account.add.email_code"), sms_code: () => t("account.add.sms_code") };
// What removing each kind of factor takes away, and the question asked before.
const REMOVAL = {
  totp: () => ({ title: t("account.remove.title.totp"), says: t("account.remove.says.totp") }),
  webauthn: (factor) => ({ title: t("account.remove.title.webauthn"), says: t("account.remove.says.webauthn", { name: describe(factor) }) }),
  email_code: (factor) => ({ title: t("account.remove.title.email_code"), says: t("account.remove.says.email_code", { to: describe(factor) }) }),
  sms_code: (factor) => ({ title: t("account.remove.title.sms_code"), says: t("account.remove.says.sms_code", { to: describe(factor) }) }),
};

function describe(factor) {
  if (factor.type === "webauthn") return factor.name || t("factor.webauthn.name");
  if (factor.type === "backup_code") return tn("account.codes_left", factor.remaining ?? 0);
  return factor.email || factor.phone || "";
}

// What removing a factor does, in the person's words: the service's rules (a last primary
// factor takes the backup codes with it; any removal forgets remembered devices).
function removalWords(factor, account) {
  const factors = account.factors || [];
  const devices = account.trusted_devices || 0;
  const forgets = devices ? tn("account.remove.forgets", devices) : null;
  if (factor.type === "backup_code") {
    return { title: t("account.remove.title.backup_code"), says: [tn("account.remove.says.backup_code", factor.remaining ?? 0), forgets] };
  }
  const primaries = factors.filter((f) => f.type !== "backup_code");
  const hasCodes = factors.some((f) => f.type === "backup_code");
  const words = (REMOVAL[factor.type] || (() => ({ title: t("account.remove.title.any", { factor: factorName(factor.type) }),
    says: t("account.remove.says.any", { factor: factorName(factor.type) }) })))(factor);
  const says = [words.says];
  if (primaries.length === 1) says.push(hasCodes ? t("account.remove.only_with_codes") : t("account.remove.only"));
  says.push(forgets);
  return { title: words.title, says };
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
      tools.push(button(t("account.rename"), () => renameForm(this, factor, item),
        { kind: "secondary small", "aria-label": t("account.rename_label", { name: describe(factor) }) }));
    }
    if (factor.type === "backup_code" && allowed.has("regenerate_backup_codes")) {
      tools.push(button(t("account.new_codes"), async () => {
        const sure = await confirmAction({ title: t("account.new_codes.title"),
          says: [tn("account.new_codes.says", factor.remaining ?? 0), t("account.new_codes.once")],
          confirm: t("account.new_codes"), back: t("account.new_codes.keep") });
        if (sure) this.send({ type: "regenerate_backup_codes" });
      }, { kind: "secondary small" }));
    }
    if (allowed.has("remove_factor")) {
      tools.push(button(t("account.remove"), async () => {
        const { title: question, says } = removalWords(factor, account);
        if (await confirmAction({ title: question, says, confirm: t("account.remove"), back: t("account.remove.keep") })) {
          this.send({ type: "remove_factor", verification_id: factor.id });
        }
      }, { kind: "danger small", "aria-label": t("account.remove_label", { factor: name }) }));
    }
    const item = el("li", { class: "method", "data-type": factor.type },
      el("div", {}, el("strong", {}, name), describe(factor) ? ` · ${describe(factor)}` : ""),
      el("div", { class: "hint" }, used ? t("account.added_used", { added: when(factor.created_at), used })
        : t("account.added_never", { added: when(factor.created_at) })),
      el("div", { class: "tools" }, ...tools));
    return item;
  });
  const adds = (account.addable_factors || []).filter(() => allowed.has("add_factor"))
    .map((factor) => button(ADD_WORDS[factor] ? ADD_WORDS[factor]() : t("account.add.any", { factor: factorName(factor) }),
      () => this.send({ type: "add_factor", factor }), { kind: "secondary" }));
  if (allowed.has("regenerate_backup_codes") && !factors.some((f) => f.type === "backup_code")) {
    adds.push(button(t("account.get_codes"), () => this.send({ type: "regenerate_backup_codes" }), { kind: "secondary" }));
  }
  const body = [
    el("h2", {}, t("account.methods")),
    rows.length ? el("ul", { class: "methods", id: "methods" }, ...rows) : el("p", { class: "muted", id: "methods" }, t("account.no_methods")),
  ];
  if (adds.length) body.push(el("h2", {}, t("account.add_method")), el("div", { class: "tools" }, ...adds));
  // Whether a second step is asked for matters once there is one to ask for. Opting out is
  // offered only where the policy allows it (opt_out_allowed); opting back in, always.
  if (allowed.has("set_mfa_enabled") && factors.some((f) => f.type !== "backup_code")) {
    const enabled = account.mfa_enabled ?? !(account.skip_on_sign_in ?? false);
    body.push(el("h2", {}, t("account.second_step")),
      el("p", { id: "second-step" }, enabled ? t("account.second_step.on") : t("account.second_step.off")));
    if (!enabled) {
      body.push(button(t("account.second_step.ask"), () => this.send({ type: "set_mfa_enabled", enabled: true }), { kind: "secondary" }));
    } else if (account.opt_out_allowed !== false) {
      body.push(button(t("account.second_step.stop"), () => this.send({ type: "set_mfa_enabled", enabled: false }), { kind: "secondary" }));
    } else {
      body.push(el("p", { class: "hint", id: "opt-out-refused" }, t("account.second_step.required", { product })));
    }
  }
  if (allowed.has("revoke_trusted_devices") && account.trusted_devices !== 0) {
    body.push(el("h2", {}, t("account.devices")),
      el("p", {}, t("account.devices.lead")),
      button(t("account.devices.forget"), async () => {
        const count = account.trusted_devices;
        const sure = await confirmAction({ title: t("account.devices.title"),
          says: [count ? tn("account.devices.says", count) : t("account.devices.says_every")],
          confirm: t("account.devices.confirm"), back: t("account.devices.keep") });
        if (sure) this.send({ type: "revoke_trusted_devices" });
      }, { kind: "secondary" }));
  }
  // Where and when the person signed in lately: a sign-in they do not recognise is a reason to
  // change their password and review their methods.
  const recent = account.recent_sign_ins || [];
  if (recent.length) {
    body.push(el("h2", {}, t("account.recent")),
      el("ul", { class: "methods", id: "recent-sign-ins" }, ...recent.map((s) => el("li", {},
        el("div", {}, el("strong", {}, [s.city, s.region, s.country].filter(Boolean).join(", ") || t("account.recent.unknown"))),
        el("div", { class: "hint" }, t("account.recent.when", { when: formatDateTime(s.at) }))))),
      el("p", { class: "hint" }, t("account.recent.not_you")));
  }
  return {
    title: t("account.title"),
    lead: t("account.lead", { product }),
    body,
    actions: allowed.has("finish") ? [button(t("account.finish"), () => this.send({ type: "finish" }))] : [],
  };
}

function renameForm(ui, factor, item) {
  const input = el("input", { id: "passkey-name", name: "passkey-name", value: factor.name || "", maxlength: "64", required: true });
  const form = el("form", { class: "inline", novalidate: true },
    el("div", {}, el("label", { for: "passkey-name" }, t("account.rename.label")), input),
    el("button", { type: "submit", class: "primary" }, t("account.rename.save")));
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
        return { title: t("account.saved.title"), lead: t("account.saved.lead"),
          body: [el("p", { id: "saved" }, t("account.saved.next"))],
          actions: [button(t("account.saved.more"), () => ui.begin({ device_id: deviceId() }))] };
      }
      return { title: t("account.opening"), body: [] };
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
  $("#flow").replaceChildren(el("h1", {}, t("account.title")),
    el("p", { class: "lead" }, t("account.unsupported")));
}
