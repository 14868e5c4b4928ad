// Messages: Japanese first, English by the switch. Catalogues come from /jsi18n/<lang>.json (domain djangojs).
const COOKIE = "django_language";
let catalog = {};
let current = "ja";

export function language() {
  return current;
}

export function chosenLanguage(fallback) {
  const fromCookie = document.cookie.split("; ").find((c) => c.startsWith(`${COOKIE}=`));
  return localStorage.getItem("moira.language") || (fromCookie && fromCookie.split("=")[1]) || fallback || "ja";
}

export async function load(lang) {
  const response = await fetch(`/jsi18n/${lang}.json`, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`catalogue ${lang}: ${response.status}`);
  catalog = (await response.json()).catalog || {};
  current = lang;
  document.documentElement.lang = lang;
  localStorage.setItem("moira.language", lang);
  // The server's pages (log-in, label sheet) follow the same choice.
  document.cookie = `${COOKIE}=${lang}; path=/; max-age=31536000; samesite=lax`;
}

// t(msgid, {n: 3}) with "%(n)s" in the message: Django's interpolate() with named placeholders.
export function t(msgid, params) {
  const text = catalog[msgid] || msgid;
  if (!params) return text;
  return text.replace(/%\((\w+)\)s/g, (_, name) => (name in params ? String(params[name]) : ""));
}

export function formatTime(ms) {
  return new Date(ms).toLocaleTimeString(current === "ja" ? "ja-JP" : "en-GB", { hour12: false });
}

export function formatDateTime(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value || "");
  return date.toLocaleString(current === "ja" ? "ja-JP" : "en-GB", { hour12: false });
}
