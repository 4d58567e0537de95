// The pages' languages: one message catalogue per locale (i18n/<locale>.json, flat keys, "{name}"
// placeholders, plural forms as "<key>.<CLDR category>"). The locale is chosen by ?lang= or
// ?ui_locales= (OpenID Connect), then the choice remembered by the language picker, then the
// server's pick (<html lang>, from Accept-Language, else MFA_FLOW_DEFAULT_LOCALE). English is
// the fallback for a key a catalogue lacks; such keys are kept in `missing` (tests read it).

// Every catalogue is a static JSON module (about 8 KB each): the pages fetch nothing of their own.
import ar from "./i18n/ar.json" with { type: "json" };
import de from "./i18n/de.json" with { type: "json" };
import en from "./i18n/en.json" with { type: "json" };
import es from "./i18n/es.json" with { type: "json" };
import fr from "./i18n/fr.json" with { type: "json" };
import ja from "./i18n/ja.json" with { type: "json" };

const CATALOGUES = { en, de, fr, es, ja, ar };
export const LOCALES = Object.freeze({ en: "English", de: "Deutsch", fr: "Français", es: "Español", ja: "日本語", ar: "العربية" });
const RIGHT_TO_LEFT = new Set(["ar"]);
const REMEMBERED = "mfa-flow.locale";

function supported(tags) {
  for (const tag of tags) {
    const base = String(tag || "").trim().toLowerCase().split(/[-_]/)[0];
    if (Object.hasOwn(LOCALES, base)) return base;
  }
  return null;
}

function remembered() {
  try { return localStorage.getItem(REMEMBERED); } catch { return null; }
}

export function chooseLocale() {
  if (document.documentElement.hasAttribute("data-english-only")) return "en"; // the console
  const params = new URLSearchParams(location.search);
  const asked = [params.get("lang"), ...(params.get("ui_locales") || "").split(/\s+/)].filter(Boolean);
  return supported(asked) || supported([remembered()]) || supported([document.documentElement.lang]) || "en";
}

export const locale = chooseLocale();
export const direction = RIGHT_TO_LEFT.has(locale) ? "rtl" : "ltr";
const english = CATALOGUES.en;
const catalogue = CATALOGUES[locale] || english;
export const missing = new Set();
// Every text the catalogues gave, kept only when a test asks for it before the page loads (so
// that it can tell text the catalogues gave from text written into a script in one language).
const said = globalThis.__mfaFlowI18nRecord ? new Set() : null;
globalThis.__mfaFlowI18n = { locale, missing, said };

document.documentElement.lang = locale;
document.documentElement.dir = direction;

// Whether the pages have words for this key (a problem type's message, say).
export function known(key) {
  return Object.hasOwn(english, key);
}

function lookup(key) {
  if (Object.hasOwn(catalogue, key)) return catalogue[key];
  missing.add(key);
  return Object.hasOwn(english, key) ? english[key] : key;
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}

const plurals = new Intl.PluralRules(locale);
const numbers = new Intl.NumberFormat(locale);
const days = new Intl.DateTimeFormat(locale, { year: "numeric", month: "short", day: "numeric" });

// "a, b and c" as the locale writes a list.
export function formatList(words) {
  return spoken(locale === "en" ? words.join(" and ") : new Intl.ListFormat(locale, { type: "conjunction" }).format(words));
}

// A number and a day (an ISO 8601 time) as the locale writes them.
export const formatNumber = (n) => numbers.format(n);
export const formatDate = (iso) => days.format(new Date(iso));

// t("signin.title", {product}) -> the catalogue's text with its placeholders filled.
export function t(key, params = {}) {
  return spoken(fill(lookup(key), params));
}

function spoken(text) {
  if (said) said.add(text);
  return text;
}

// tn("attempts.left", 3) -> the plural form of the locale's rules, {count} formatted for it.
export function tn(key, count, params = {}) {
  const form = `${key}.${plurals.select(count)}`;
  const text = Object.hasOwn(catalogue, form) ? catalogue[form] : lookup(`${key}.other`);
  return spoken(fill(text, { ...params, count: numbers.format(count) }));
}

// The page's title (the browser's tab and the screen reader's first words), in the locale.
export function title(key, params = {}) {
  document.title = t(key, params);
}

// The language picker: a select whose choice is remembered (then the page reloads in it).
export function languagePicker(el) {
  const id = "language";
  const select = el("select", { id, name: id },
    ...Object.entries(LOCALES).map(([code, name]) => el("option", { value: code, lang: code, selected: code === locale }, name)));
  select.addEventListener("change", () => {
    try { localStorage.setItem(REMEMBERED, select.value); } catch { /* private mode: this visit only */ }
    const url = new URL(location.href);
    url.searchParams.delete("lang");
    url.searchParams.delete("ui_locales");
    url.searchParams.set("lang", select.value);
    location.assign(url.toString());
  });
  return el("div", { class: "language" }, el("label", { for: id }, t("language.label")), select);
}
