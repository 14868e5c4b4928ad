// Moira workers' app: boot, header (network, pending count, sync now, language), router, queue and settings.
import { getJSON, getList } from "moira/api";
import * as clock from "moira/clock";
import { screens } from "moira/flows";
import * as i18n from "moira/i18n";
import * as queue from "moira/queue";
import { ask, card, choice, clear, h, toast } from "moira/ui";

const { t } = i18n;
const config = JSON.parse(document.getElementById("moira-config").textContent);
window.moiraConfig = config;
const main = document.getElementById("main");
const bar = document.getElementById("bar");

export const state = {
  config, plant: null, plants: [], lines: [], parts: {}, sortingMethods: [], organisations: [], lots: [], openRuns: [],
  intakes: [], dataCached: false, counts: { pending: 0, attention: 0 },
};

// Reference data and recent objects; the service worker answers from its copy when offline.
async function refreshData() {
  const [plants, lines, vm, vehicle, methods, organisations, lots, runs, intakes] = await Promise.all([
    getList("plants/"), getList("lines/"), getList("parts/?kind=vending_machine"), getList("parts/?kind=vehicle"),
    getList("sorting-methods/"), getList("organisations/"), getList("lots/", { max: 200 }), getList("runs/?open=true"),
    getList("intakes/", { max: 100 }),
  ]);
  if (plants.rows) state.plants = plants.rows;
  if (lines.rows) state.lines = lines.rows;
  if (vm.rows) state.parts.vending_machine = vm.rows;
  if (vehicle.rows) state.parts.vehicle = vehicle.rows;
  if (methods.rows) state.sortingMethods = methods.rows;
  if (organisations.rows) state.organisations = organisations.rows;
  if (lots.rows) state.lots = lots.rows;
  if (runs.rows) {
    state.openRuns = runs.rows;
    if (!runs.cached && !runs.offline) state.openRunsAt = Date.now();
  }
  if (intakes.rows) state.intakes = intakes.rows;
  state.dataCached = [plants, lots, runs].some((r) => r.cached || r.offline);
  state.unreachable = [plants, lots, runs].every((r) => r.cached || r.offline);
  const saved = Number(localStorage.getItem("moira.plant"));
  state.plant = state.plants.find((p) => p.id === saved) || (state.plants.length === 1 ? state.plants[0] : state.plant);
  state.dataLoaded = true;
  drawBar();
}

export const ctx = {
  state, t, refresh: refreshData, go: (path) => { location.hash = `#/${path}`; },
  lines: () => state.lines.filter((l) => state.plant && l.plant === state.plant.id),
  lots: () => state.lots.filter((l) => state.plant && l.plant === state.plant.id),
  intakes: () => state.intakes.filter((i) => state.plant && i.plant === state.plant.id),
};

// Write an action, try to send it at once, and tell the worker what happened to it.
function noteOutcome(result) {
  if (result.outcome === "offline") state.unreachable = true;
  else if (result.outcome !== "waiting") state.unreachable = false;
}

ctx.act = async (action, { saved = t("Saved."), queued = t("Saved on this phone; it will be sent when the network is back.") } = {}) => {
  const item = await queue.enqueue(action);
  await queue.sync();
  let now = (await queue.all()).find((i) => i.key === item.key) || item;
  if (now.status === "pending" && queue.status.last === "ok") {
    await queue.sync();
    now = (await queue.all()).find((i) => i.key === item.key) || now;
  }
  if (now.status === "done") toast(saved, "ok");
  else if (now.status === "attention") toast(t("Rejected by the server: %(reason)s", { reason: reasonOf(now) }), "error");
  else toast(queued, "queued");
  return now;
};

function reasonOf(item) {
  return item.blockedBy ? t("it needs an earlier action that was rejected or discarded.") : item.error;
}

// Header ---------------------------------------------------------------------------------------------------

let queueRedraw = null;

async function updateCounts() {
  state.counts = await queue.counts();
  drawBar();
  if (location.hash.startsWith("#/queue")) {
    clearTimeout(queueRedraw);
    queueRedraw = setTimeout(route, 300);
  }
}

function drawBar() {
  // navigator.onLine says only that there is a network interface: the last real attempt says more.
  const online = navigator.onLine && !state.unreachable;
  const { pending, attention } = state.counts;
  const syncing = queue.status.running;
  const other = state.config.languages.find((l) => l !== i18n.language()) || "en";
  clear(bar,
    h("a", { href: "#/", class: "brand", test: "home-link" }, "Moira"),
    state.plant ? h("a", { href: "#/settings", class: "plant", test: "plant-name" }, state.plant.code) : null,
    h("span", { class: `net ${online ? "on" : "off"}`, test: "net-state" }, online ? t("Online") : t("Offline")),
    h("a", { href: "#/queue", class: `badge ${pending ? "pending" : "zero"}`, test: "pending-count", "data-count": String(pending) },
      t("Unsent"), " ", h("b", {}, String(pending))),
    attention ? h("a", { href: "#/queue", class: "badge attention", test: "attention-count", "data-count": String(attention) },
      t("Check"), " ", h("b", {}, String(attention))) : null,
    h("button", { type: "button", class: "btn small", test: "sync-now", disabled: syncing, onclick: syncNow }, syncing ? t("Sending…") : t("Sync now")),
    h("button", { type: "button", class: "btn small", test: "lang-switch", lang: other, onclick: () => switchLanguage(other) },
      other === "ja" ? "日本語" : "English"));
  if (queue.status.last === "login") {
    bar.append(h("a", { class: "banner error", href: "/login/?next=/app/", test: "login-again" },
      t("Log in again to send the unsent actions."), " ", queue.status.message));
  }
}

async function syncNow() {
  await clock.measure();
  const result = await queue.sync();
  if (result.outcome === "ok") toast(t("Everything is sent."), "ok");
  else if (result.outcome === "offline") toast(t("No network: the actions stay on this phone."), "queued");
  else if (result.outcome === "login") toast(t("Log in again to send the unsent actions."), "error");
  else if (result.outcome === "server") toast(t("The server is busy; retrying soon. %(reason)s", { reason: result.message || "" }), "queued");
  refreshData().then(redrawIfSafe);
}

// Screens without a half-filled form may be drawn again when new data arrives.
function redrawIfSafe() {
  if (document.querySelector(".modal")) return; // a scanner or a question is open
  const name = location.hash.replace(/^#\/?/, "").split("/")[0];
  if (["", "queue", "settings"].includes(name) || (!state.drawnWithData && !state.touched)) route();
}

async function switchLanguage(lang) {
  try {
    await i18n.load(lang);
  } catch {
    toast(t("That language is not on this phone yet."), "error");
    return;
  }
  drawBar();
  route();
}

// Screens of the app itself -------------------------------------------------------------------------------

const TILES = [
  ["intake", "1", () => t("Intake")], ["label", "2", () => t("Labels")], ["identify", "3", () => t("Identify")],
  ["dismantle", "4", () => t("Dismantle")], ["reserve", "5", () => t("Reserve")], ["runs", "6", () => t("Shredder")],
  ["weigh", "7", () => t("Weigh")], ["ship", "8", () => t("Ship")],
];

function home() {
  return [
    state.plant ? null : h("p", { class: "banner warn" }, t("Choose your plant first."), " ", h("a", { href: "#/settings" }, t("Settings"))),
    h("nav", { class: "tiles" }, TILES.map(([name, number, label]) => h("a", { href: `#/${name}`, class: `tile tile-${name}`, test: `tile-${name}` },
      h("span", { class: "tile-number" }, number), h("span", { class: "tile-label" }, label())))),
    h("p", { class: "row" }, h("a", { href: "#/queue", class: "btn" }, t("Unsent and rejected actions")),
      h("a", { href: "#/settings", class: "btn", test: "tile-settings" }, t("Settings"))),
  ];
}

function describe(item) {
  const s = item.summary || {};
  const what = {
    intake: () => t("Slip %(slip)s", { slip: s.slip_number }),
    product: () => t("Unit %(label)s %(maker)s %(model)s", { label: s.label || "", maker: s.maker || "", model: s.model || "" }),
    dismantling: () => t("Dismantling of %(unit)s", { unit: s.unit || "" }),
    photo: () => t("Photo of %(unit)s", { unit: s.unit || "" }),
    relabel: () => t("Relabel %(unit)s to %(code)s", { unit: s.unit || "", code: s.new_code || "" }),
    attach: () => t("Label %(code)s on %(unit)s", { unit: s.unit || "", code: s.code || "" }),
    lot: () => t("Lot %(code)s with %(n)s units", { code: s.code, n: s.count || 0 }),
    reserve: () => t("Reserve %(n)s units in lot %(code)s", { code: s.lot, n: s.count || 0 }),
    "run-start": () => t("Start %(line)s for lot %(lot)s", { line: s.line, lot: s.lot }),
    "run-stop": () => t("Stop %(line)s (lot %(lot)s)", { line: s.line, lot: s.lot }),
    output: () => t("%(fraction)s %(kg)s kg, lot %(lot)s", { fraction: s.fractionLabel || s.fraction, kg: s.mass_kg, lot: s.lot }),
    shipment: () => t("Shipment of %(kg)s kg to %(buyer)s", { kg: s.mass_kg, buyer: s.buyer }),
    nameplate: () => t("Nameplate photo of %(unit)s", { unit: s.unit || "" }),
  }[item.kind];
  return what ? what() : item.kind;
}

async function queueScreen() {
  const items = await queue.all();
  const pending = items.filter((i) => i.status === "pending");
  const attention = items.filter((i) => i.status === "attention");
  const done = items.filter((i) => i.status === "done").sort((a, b) => b.doneAt - a.doneAt).slice(0, 15);
  const when = (item) => h("span", { class: "when" }, i18n.formatDateTime(item.createdAt));
  return [
    h("h1", {}, t("Unsent and rejected actions")),
    h("button", { type: "button", class: "btn primary wide", test: "queue-sync", onclick: syncNow }, t("Sync now")),
    queue.status.lastAt ? h("p", { class: "hint" }, t("Last attempt: %(when)s", { when: i18n.formatDateTime(queue.status.lastAt) })) : null,
    h("h2", {}, t("Needs attention"), ` (${attention.length})`),
    attention.length ? null : h("p", { class: "hint" }, t("Nothing was rejected.")),
    h("ul", { class: "items", test: "attention-list" }, attention.map((item) => h("li", { class: "item attention", test: "attention-item" },
      h("strong", {}, describe(item)), when(item),
      h("p", { class: "reason", test: "attention-reason" }, reasonOf(item)),
      h("div", { class: "row" },
        h("button", { type: "button", class: "btn", test: "attention-retry", onclick: async () => { await queue.retry(item.key); route(); } }, t("Send again")),
        h("button", { type: "button", class: "btn danger", test: "attention-discard", onclick: async () => {
          if (await ask({ title: t("Discard this action?"), detail: describe(item), yes: t("Discard"), danger: true })) {
            await queue.discard(item.key);
            route();
          }
        } }, t("Discard")))))),
    h("h2", {}, t("Waiting to be sent"), ` (${pending.length})`),
    h("ul", { class: "items", test: "pending-list" }, pending.map((item) => h("li", { class: "item", test: "pending-item" },
      h("strong", {}, describe(item)), when(item), item.error ? h("p", { class: "hint" }, item.error) : null))),
    h("h2", {}, t("Sent")),
    h("ul", { class: "items" }, done.map((item) => h("li", { class: "item done" }, "✓ ", describe(item), " ", when(item)))),
  ];
}

function settingsScreen() {
  const info = clock.info();
  const offset = info ? (info.offsetMs / 1000).toFixed(1) : null;
  return [
    h("h1", {}, t("Settings")),
    card(h("h2", {}, t("Plant")),
      state.plants.length ? choice({
        test: "plant-choice", value: state.plant && state.plant.id,
        options: state.plants.map((p) => [p.id, `${p.code} ${p.name}`]),
        onchange: (id) => { state.plant = state.plants.find((p) => p.id === id); localStorage.setItem("moira.plant", String(id)); drawBar(); },
      }) : h("p", {}, t("No plant is visible to you (or the list is not on this phone yet)."))),
    card(h("h2", {}, t("Language")),
      choice({ test: "language-choice", value: i18n.language(), options: [["ja", "日本語"], ["en", "English"]], onchange: switchLanguage })),
    card(h("h2", {}, t("Clock")),
      h("p", { test: "clock-offset" }, offset == null ? t("Not measured yet.")
        : t("The server clock is %(s)s s ahead of this phone (measured %(when)s, round trip %(rtt)s ms).",
          { s: offset, when: i18n.formatDateTime(info.measuredAt), rtt: info.rttMs })),
      h("button", { type: "button", class: "btn", onclick: async () => { await clock.measure(); route(); } }, t("Measure again"))),
    card(h("h2", {}, t("Account")), h("p", {}, state.config.user),
      h("form", { method: "post", action: "/logout/", onsubmit: async (event) => {
        event.preventDefault();
        const { pending } = await queue.counts();
        if (pending && !(await ask({ title: t("Log out with unsent actions?"), detail: t("They stay on this phone and are sent after the next log-in."), yes: t("Log out") }))) return;
        await caches.delete("moira-api-v1").catch(() => {});
        event.target.submit();
      } }, h("input", { type: "hidden", name: "csrfmiddlewaretoken", value: decodeURIComponent((document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "") }),
      h("button", { type: "submit", class: "btn" }, t("Log out")))),
    h("p", { class: "hint" }, `v ${state.config.version}`),
  ];
}

// Router -------------------------------------------------------------------------------------------------

let routing = 0;

async function route() {
  const ticket = ++routing;
  state.touched = false;
  const [name, ...params] = location.hash.replace(/^#\/?/, "").split("/");
  let content;
  if (!name) content = home();
  else if (name === "queue") content = await queueScreen();
  else if (name === "settings") content = settingsScreen();
  else if (screens[name]) {
    if (!state.plant) {
      content = [h("p", { class: "banner warn" }, t("Choose your plant first.")), ...settingsScreen()];
    } else {
      state.drawnWithData = Boolean(state.dataLoaded);
      content = h("div", { class: "screen", test: `screen-${name}` });
      if (ticket === routing) clear(main, content);
      await screens[name](content, ctx, ...params);
      return;
    }
  } else content = home();
  if (ticket === routing) clear(main, h("div", { class: "screen", test: `screen-${name || "home"}` }, content));
}
ctx.route = route;

// Boot ---------------------------------------------------------------------------------------------------

async function boot() {
  try {
    await i18n.load(i18n.chosenLanguage(config.language));
  } catch {
    // no catalogue (first visit offline): the English texts show
  }
  queue.events.addEventListener("change", (event) => {
    if (event.detail && event.detail.synced) noteOutcome(event.detail.synced);
    updateCounts();
  });
  window.addEventListener("hashchange", route);
  for (const type of ["pointerdown", "keydown", "input"]) document.addEventListener(type, () => { state.touched = true; }, true);
  window.addEventListener("online", () => { drawBar(); clock.measure().finally(() => queue.sync()); refreshData(); });
  window.addEventListener("offline", drawBar);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") queue.sync(); });
  // Ask the browser not to evict the queue under storage pressure.
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
  await updateCounts();
  route();
  if ("serviceWorker" in navigator) {
    // The first visit's reads went past the worker: read again once it controls the page, so they are cached.
    navigator.serviceWorker.addEventListener("controllerchange", () => refreshData());
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((error) => console.warn("service worker", error));
  }
  await refreshData();
  redrawIfSafe();
  await clock.measure();
  const result = await queue.sync();
  if (result.outcome === "ok" && state.counts.pending === 0) refreshData();
  queue.prune();
  setInterval(() => { if (state.counts.pending) queue.sync(); }, 30000);
  setInterval(() => clock.measure(), 10 * 60 * 1000);
  document.body.dataset.ready = "1";
}

boot();
