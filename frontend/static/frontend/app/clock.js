// The device clock and its measured offset to the server clock (server minus device, in ms).
// A tap keeps the device time; the times sent (started_at, ended_at, ...) are device time + offset.
const KEY = "moira.clock";
let state = JSON.parse(localStorage.getItem(KEY) || "null");

export function info() {
  return state;
}

export function offsetMs() {
  return state ? state.offsetMs : null;
}

export function parseServerTime(text) {
  // Keep milliseconds only: some engines reject microseconds.
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)$/.exec(String(text || "").trim());
  if (!m) return NaN;
  const fraction = m[2] ? `${m[2]}000`.slice(0, 4) : "";
  return Date.parse(m[1] + fraction + m[3]);
}

// Several round trips to /api/v1/time/; the shortest one gives the best midpoint.
export async function measure(samples = 3) {
  let best = null;
  for (let i = 0; i < samples; i += 1) {
    const deviceStart = Date.now();
    const t0 = performance.now();
    let response;
    try {
      response = await fetch("/api/v1/time/", { cache: "no-store", credentials: "same-origin", headers: { Accept: "application/json" } });
    } catch {
      break;
    }
    const rtt = performance.now() - t0;
    if (!response.ok) break;
    const server = parseServerTime((await response.json()).server_time);
    if (Number.isNaN(server)) break;
    const sample = { offsetMs: Math.round(server - (deviceStart + rtt / 2)), rttMs: Math.round(rtt) };
    if (!best || sample.rttMs < best.rttMs) best = sample;
  }
  if (best) {
    state = { ...best, measuredAt: Date.now() };
    localStorage.setItem(KEY, JSON.stringify(state));
  }
  return best;
}

// ISO 8601 with the device's UTC offset, milliseconds kept: 2024-05-01T09:30:05.123+09:00.
export function iso(ms) {
  const d = new Date(ms);
  const pad = (n, width = 2) => String(Math.abs(Math.trunc(n))).padStart(width, "0");
  const tz = -d.getTimezoneOffset();
  const sign = tz >= 0 ? "+" : "-";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
    + `.${pad(d.getMilliseconds(), 3)}${sign}${pad(Math.abs(tz) / 60)}:${pad(Math.abs(tz) % 60)}`;
}

// The moment of a tap: what the device said, the offset known then, and the corrected time to send.
export function tap() {
  const deviceMs = Date.now();
  const offset = offsetMs();
  const serverMs = deviceMs + (offset || 0);
  return { deviceMs, offsetMs: offset, serverMs, deviceIso: iso(deviceMs), iso: iso(serverMs) };
}

// The calendar date of a moment in a plant's time zone, YYYY-MM-DD.
export function dateIn(ms, timeZone) {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(ms));
  } catch {
    return iso(ms).slice(0, 10);
  }
}
