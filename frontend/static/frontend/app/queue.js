// The offline queue: every action is written to IndexedDB first, then replayed in order with its
// Idempotency-Key, so a lost answer or a double tap never doubles a record on the server.
//
// An action may use the result of an earlier one: {"$ref": "<key>", "field": "id"} anywhere in its path,
// body or form fields is replaced at replay by that field of the earlier action's response.
// 2xx: done. 4xx: "attention", shown with the server's reason until the worker retries or discards it.
// Network errors, 5xx, 409 with Retry-After and 429: stay queued, and replay stops there to keep the order.
import { API, csrfToken, errorText, newKey, withTimeout } from "moira/api";

const DB_NAME = "moira";
const STORE = "actions";
const KEEP_DONE_MS = 14 * 24 * 3600 * 1000;
export const events = new EventTarget();
export const status = { running: false, last: "idle", lastAt: null, message: "" };

let dbPromise = null;

function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        const store = request.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
        store.createIndex("key", "key", { unique: true });
      };
      request.onsuccess = () => {
        const db = request.result;
        // iOS may close the connection under memory pressure: reopen on the next use.
        db.onclose = () => { dbPromise = null; };
        db.onversionchange = () => { db.close(); dbPromise = null; };
        resolve(db);
      };
      request.onerror = () => { dbPromise = null; reject(request.error); };
    });
  }
  return dbPromise;
}

async function transaction(mode, work) {
  for (let attempt = 0; ; attempt += 1) {
    const db = await openDb();
    let tx;
    try {
      tx = db.transaction(STORE, mode, { durability: "strict" });
    } catch (error) {
      dbPromise = null;
      if (attempt < 2 && error.name === "InvalidStateError") continue;
      throw error;
    }
    const request = work(tx.objectStore(STORE));
    return new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve(request ? request.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
    });
  }
}

export const all = () => transaction("readonly", (store) => store.getAll());
const put = (item) => transaction("readwrite", (store) => store.put(item));
const remove = (seq) => transaction("readwrite", (store) => store.delete(seq));

function changed(detail) {
  events.dispatchEvent(new CustomEvent("change", { detail }));
}

export function ref(key, field = "id") {
  return { $ref: key, field };
}

export const isRef = (value) => value && typeof value === "object" && typeof value.$ref === "string";

// Write an action to the queue; resolves once it is durably stored. `tap` is clock.tap() of the worker's tap.
export async function enqueue({ kind, path, body = null, form = null, summary = {}, tap }) {
  const item = {
    key: newKey(), kind, path, body, form, summary, status: "pending",
    deviceTime: tap.deviceIso, offsetMs: tap.offsetMs, createdAt: tap.deviceMs,
    attempts: 0, error: "", errorStatus: null, blockedBy: null, result: null, doneAt: null,
  };
  item.seq = await transaction("readwrite", (store) => store.add(item));
  changed({ item });
  return item;
}

class Unresolved extends Error {
  constructor(key) {
    super(`unresolved ${key}`);
    this.key = key;
  }
}

function resolve(value, results) {
  if (isRef(value)) {
    if (!results.has(value.$ref)) throw new Unresolved(value.$ref);
    return results.get(value.$ref)[value.field || "id"];
  }
  if (Array.isArray(value)) return value.map((v) => resolve(v, results));
  if (value && typeof value === "object" && !(value instanceof Blob)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, results)]));
  }
  return value;
}

function requestFor(item, results) {
  const path = Array.isArray(item.path) ? resolve(item.path, results).join("") : item.path;
  const headers = {
    Accept: "application/json",
    "Idempotency-Key": item.key,
    "X-CSRFToken": csrfToken(),
    "X-Device-Time": item.deviceTime,
  };
  if (item.offsetMs != null) headers["X-Device-Clock-Offset-Ms"] = String(item.offsetMs);
  let body;
  if (item.form) {
    body = new FormData();
    for (const [name, value] of Object.entries(resolve(item.form.fields || {}, results))) {
      if (value != null) body.append(name, String(value));
    }
    for (const file of item.form.files || []) body.append(file.field, file.blob, file.filename || "photo.jpg");
  } else if (item.body != null) {
    body = JSON.stringify(resolve(item.body, results));
    headers["Content-Type"] = "application/json";
  }
  return { url: API + path, init: { method: "POST", headers, body, credentials: "same-origin" } };
}

async function readBody(response) {
  try {
    return (response.headers.get("Content-Type") || "").includes("json") ? await response.json() : { detail: (await response.text()).slice(0, 300) };
  } catch {
    return null;
  }
}

let retryTimer = null;
let backoffMs = 5000;

function scheduleRetry(ms) {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => sync(), ms);
}

async function replay() {
  const items = await all();
  const results = new Map(items.filter((i) => i.status === "done").map((i) => [i.key, i.result || {}]));
  const blocked = new Set(items.filter((i) => i.status === "attention").map((i) => i.key));
  const known = new Set(items.map((i) => i.key));
  for (const item of items.filter((i) => i.status === "pending")) {
    let request;
    try {
      request = requestFor(item, results);
    } catch (error) {
      if (!(error instanceof Unresolved)) throw error;
      if (blocked.has(error.key) || !known.has(error.key)) {
        // An action it depends on was rejected or discarded: it cannot go either, and says why.
        Object.assign(item, { status: "attention", blockedBy: error.key, errorStatus: null, error: "" });
        await put(item);
        blocked.add(item.key);
        changed({ item, rejected: true });
        continue;
      }
      return { outcome: "waiting" };
    }
    item.attempts += 1;
    let response;
    const timer = withTimeout(item.form ? 120000 : 30000);
    try {
      response = await fetch(request.url, { ...request.init, signal: timer.signal });
    } catch {
      await put(item);
      return { outcome: "offline" };
    } finally {
      timer.done();
    }
    const data = await readBody(response);
    if (response.ok) {
      Object.assign(item, { status: "done", result: data || {}, doneAt: Date.now(), error: "", errorStatus: null });
      await put(item);
      results.set(item.key, item.result);
      changed({ item, done: true });
      continue;
    }
    const detail = errorText(data, response.status);
    if (response.status === 401 || (response.status === 403 && /CSRF|credentials|authenticat/i.test(detail))) {
      await put(item);
      return { outcome: "login", message: detail };
    }
    const transient = response.status >= 500 || response.status === 429 || response.status === 408
      || (response.status === 409 && (response.headers.has("Retry-After") || item.attempts < 5));
    if (transient) {
      Object.assign(item, { error: detail, errorStatus: response.status });
      await put(item);
      const retryAfter = Number(response.headers.get("Retry-After"));
      return { outcome: "server", message: detail, retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null };
    }
    Object.assign(item, { status: "attention", error: detail, errorStatus: response.status, blockedBy: null });
    await put(item);
    blocked.add(item.key);
    changed({ item, rejected: true });
  }
  return { outcome: "ok" };
}

let running = null;

// Replay the queue now (app open, "sync now", back online, a new action). One replay at a time, also across tabs.
export function sync() {
  if (running) return running;
  status.running = true;
  changed({});
  const work = () => replay().catch((error) => ({ outcome: "error", message: String(error) }));
  running = (navigator.locks ? navigator.locks.request("moira-queue", work) : work()).then((result) => {
    status.running = false;
    status.last = result.outcome;
    status.lastAt = Date.now();
    status.message = result.message || "";
    if (result.outcome === "ok") {
      backoffMs = 5000;
    } else if (result.outcome !== "login") {
      scheduleRetry(result.retryAfterMs || backoffMs);
      backoffMs = Math.min(backoffMs * 2, 60000);
    }
    running = null;
    changed({ synced: result });
    return result;
  });
  return running;
}

export async function counts() {
  const items = await all();
  return {
    pending: items.filter((i) => i.status === "pending").length,
    attention: items.filter((i) => i.status === "attention").length,
  };
}

// Put a rejected action back in the queue (with the actions that were waiting for it).
export async function retry(key) {
  const items = await all();
  const again = new Set([key]);
  for (const item of items) {
    if (item.status === "attention" && (again.has(item.key) || again.has(item.blockedBy))) {
      again.add(item.key);
      Object.assign(item, { status: "pending", error: "", errorStatus: null, blockedBy: null, attempts: 0 });
      await put(item);
    }
  }
  changed({});
  return sync();
}

// The worker gave up on a rejected action: it leaves the queue; actions needing it stay for attention.
export async function discard(key) {
  const item = (await all()).find((i) => i.key === key);
  if (item && item.status !== "done") await remove(item.seq);
  changed({});
}

// Done actions are kept a while so later actions can still refer to their results.
export async function prune(now = Date.now()) {
  const items = await all();
  const needed = new Set();
  const collect = (value) => {
    if (isRef(value)) needed.add(value.$ref);
    else if (value && typeof value === "object" && !(value instanceof Blob)) Object.values(value).forEach(collect);
  };
  items.filter((i) => i.status !== "done").forEach((i) => collect([i.path, i.body, i.form && i.form.fields]));
  for (const item of items) {
    if (item.status === "done" && now - item.doneAt > KEEP_DONE_MS && !needed.has(item.key)) await remove(item.seq);
  }
}

// The result of an earlier action if it is done, else a reference to it (resolved at replay).
export async function idOrRef(key, field = "id") {
  const item = (await all()).find((i) => i.key === key);
  if (item && item.status === "done" && item.result && item.result[field] != null) return item.result[field];
  return ref(key, field);
}
