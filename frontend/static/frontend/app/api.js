// Talking to the server: reads (through the service worker's network-first cache) and immediate uploads.
export const API = "/api/v1/";

export function csrfToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.split("=")[1]) : "";
}

export function withTimeout(ms) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  return { signal: controller.signal, done: () => clearTimeout(timer) };
}

async function parse(response) {
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }
  const text = await response.text();
  return text ? { detail: text.slice(0, 300) } : null;
}

// {ok, status, data, cached, offline}: `cached` when the service worker answered from its copy.
export async function getJSON(path, { timeoutMs = 15000 } = {}) {
  const timer = withTimeout(timeoutMs);
  try {
    const response = await fetch(API + path, { credentials: "same-origin", headers: { Accept: "application/json" }, signal: timer.signal });
    const data = await parse(response);
    const offline = response.headers.get("X-Moira-Offline") === "1";
    return { ok: response.ok, status: response.status, data, cached: response.headers.get("X-Moira-Cached") === "1", offline };
  } catch {
    return { ok: false, status: 0, data: null, cached: false, offline: true };
  } finally {
    timer.done();
  }
}

// Every page of a list endpoint (LimitOffsetPagination), up to `max` rows.
export async function getList(path, { max = 500 } = {}) {
  const sep = path.includes("?") ? "&" : "?";
  const first = await getJSON(`${path}${sep}limit=${Math.min(max, 200)}`);
  if (!first.ok) return { ...first, rows: null };
  const rows = Array.isArray(first.data) ? first.data : first.data.results || [];
  let next = first.data && first.data.next;
  while (next && rows.length < max) {
    const url = new URL(next, location.href);
    const page = await getJSON(url.pathname.replace(API, "") + url.search);
    if (!page.ok) break;
    rows.push(...(page.data.results || []));
    next = page.data.next;
  }
  return { ...first, rows };
}

// An upload that needs its answer now (a scan, a nameplate): not queued.
export async function upload(path, fields, { timeoutMs = 90000 } = {}) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (value == null) continue;
    if (value instanceof Blob) form.append(name, value, value.name || `${name}.jpg`);
    else form.append(name, String(value));
  }
  const timer = withTimeout(timeoutMs);
  try {
    const response = await fetch(API + path, {
      method: "POST", body: form, credentials: "same-origin", signal: timer.signal,
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    });
    return { ok: response.ok, status: response.status, data: await parse(response), offline: false };
  } catch {
    return { ok: false, status: 0, data: null, offline: true };
  } finally {
    timer.done();
  }
}

// A question that needs its answer now (a shipment preview): JSON in and out, not queued.
export async function postJSON(path, body, { timeoutMs = 10000 } = {}) {
  const timer = withTimeout(timeoutMs);
  try {
    const response = await fetch(API + path, {
      method: "POST", body: JSON.stringify(body), credentials: "same-origin", signal: timer.signal,
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    });
    return { ok: response.ok, status: response.status, data: await parse(response), offline: false };
  } catch {
    return { ok: false, status: 0, data: null, offline: true };
  } finally {
    timer.done();
  }
}

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// The server's reasons as one line: {"field": ["message"]} or {"detail": "..."}, nested rows included.
export function errorText(data, status) {
  const parts = [];
  const walk = (value, prefix) => {
    if (value == null) return;
    if (typeof value === "string") parts.push(prefix && !["detail", "non_field_errors"].includes(prefix) ? `${prefix}: ${value}` : value);
    else if (Array.isArray(value)) value.forEach((v) => walk(v, prefix));
    else if (typeof value === "object") Object.entries(value).forEach(([k, v]) => walk(v, /^\d+$/.test(k) ? prefix : k));
  };
  walk(data, "");
  return parts.join("; ") || (status ? `HTTP ${status}` : "");
}
