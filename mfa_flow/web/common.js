// What the three pages share: building elements, and the service's client. The pages talk to
// the API only through the SDK (clients/js, served as vendor/mfa-flow-client/): no rule of the
// service lives here.

import { formatList, formatNumber, locale, t } from "./i18n.js";
import { ApiError, MfaFlowClient, isTerminal } from "./vendor/mfa-flow-client/index.js";

export { ApiError, MfaFlowClient, isTerminal };

// The service behind this page (its own origin), with no key: flows carry their own tokens.
// Each request says the page's language (Accept-Language), so a flow's codes are written in it
// when the user has no locale of their own, and the factor catalogue answers in it.
export const service = new MfaFlowClient({ headers: { "Accept-Language": locale } });

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
export function confirmAction({ title, says, confirm, back = t("action.cancel") }) {
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

// The factors' words, in the page's language.
export const FACTORS = Object.fromEntries(["totp", "webauthn", "email_code", "sms_code", "backup_code"]
  .map((f) => [f, { name: t(`factor.${f}.name`), hint: t(`factor.${f}.hint`) }]));
export const factorName = (factor) => (FACTORS[factor] || { name: factor.replace(/_/g, " ") }).name;

// RFC 8176 method references, in words (the page's language).
const METHODS = {
  pwd: "method.pwd", otp: "method.otp", hwk: "method.hwk", swk: "method.hwk", user: "method.user",
  mfa: null, sms: "method.sms", mca: null, tel: "method.tel",
};
export function methodsInWords(amr = []) {
  const words = [...new Set(amr.map((m) => (m in METHODS ? METHODS[m] && t(METHODS[m]) : m)).filter(Boolean))];
  if (!words.length) return t("method.none");
  return formatList(words);
}

export function clock(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return s >= 60 ? `${formatNumber(Math.floor(s / 60))}:${String(s % 60).padStart(2, "0")}` : t("clock.seconds", { seconds: formatNumber(s) });
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
    statusNode.textContent = t("copy.done");
  } catch {
    statusNode.textContent = t("copy.refused");
  }
}
