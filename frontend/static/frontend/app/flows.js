// The worker flows: intake, labels, identify, dismantle, reserve, shredder runs, weigh, ship.
// Every write goes through ctx.act (the offline queue); objects made offline are referred to by queue key.
import { errorText, getJSON, postJSON, upload } from "moira/api";
import * as clock from "moira/clock";
import { display } from "moira/codes";
import { formatTime, language, t } from "moira/i18n";
import * as queue from "moira/queue";
import { scanLabel } from "moira/scan";
import { ask, card, choice, clear, field, h, input, kv, pickFile, stepper, toast } from "moira/ui";

const idOrRefOf = (obj) => (obj.id != null ? obj.id : queue.ref(obj.ref));
const kindLabel = (kind) => (kind === "vehicle" ? t("Vehicle") : t("Vending machine"));
const statusLabel = (s) => ({
  registered: t("Registered"), dismantled: t("Dismantled"), reserved: t("Reserved"), shredded: t("Shredded"), pending: t("Not sent yet"),
}[s] || s || "");
const FRACTIONS = () => [["magnetic", t("Magnetic product")], ["mixed_metal", t("Mixed metal")], ["dust", t("Dust")], ["other", t("Other")]];
const PATTERNS = () => [["blank", t("Blank (legal removals)")], ["pattern_1", t("Pattern ① cooling unit")],
  ["pattern_2", t("Pattern ② precise")], ["custom", t("Custom")]];
const decimal = (value) => String(value || "").trim().replace(/,/g, ".").replace(/[^0-9.]/g, "");
const validMass = (value) => /^\d+(\.\d{1,3})?$/.test(value) && Number(value) > 0;

function partName(part) {
  return language() === "ja" ? part.name_ja : part.name_en;
}

// Units: found by label on the server, else among the ones made on this phone --------------------------

async function findUnit(code) {
  const answer = await getJSON(`products/?label=${encodeURIComponent(code)}`);
  if (answer.ok) {
    const rows = Array.isArray(answer.data) ? answer.data : answer.data.results || [];
    if (rows.length) return { unit: rows[0], cached: answer.cached };
  }
  const items = (await queue.all()).filter((i) => i.status !== "attention");
  const made = items.filter((i) => i.kind === "product" && i.summary.code === code).pop();
  if (made) {
    if (made.status === "done" && made.result && made.result.id != null) return { unit: { ...made.result, label: display(code) }, local: true };
    return { unit: { ref: made.key, ...made.summary, label: display(code), status: "pending" }, local: true };
  }
  const relabelled = items.filter((i) => i.kind === "relabel" && i.summary.code === code).pop();
  if (relabelled) return { unit: { ...relabelled.summary.unitData, label: display(code) }, local: true };
  if (answer.status === 400 || answer.status === 404) return { error: errorText(answer.data, answer.status) };
  return { error: t("No network, and this label is not known on this phone.") };
}

function unitCard(unit) {
  return card(
    h("h2", { test: "unit-label" }, unit.label || t("No label")),
    kv([[t("Kind"), kindLabel(unit.kind)], [t("Maker"), unit.maker], [t("Model"), unit.model], [t("Serial number"), unit.serial_number],
      [t("Status"), statusLabel(unit.status)], [t("Unit"), unit.id != null ? `#${unit.id}` : t("Not sent yet")]]));
}

function unitSummary(unit) {
  return { unit: unit.label || (unit.id != null ? `#${unit.id}` : ""), unitData: { ...unit } };
}

// A big scan button that resolves to a unit (or shows why not).
function unitPicker({ title, onUnit, test = "pick-unit" }) {
  const message = h("p", { class: "reason", role: "alert", test: `${test}-error` });
  const button = h("button", { type: "button", class: "btn primary huge", test }, title || t("Scan the unit's label"));
  button.addEventListener("click", async () => {
    message.textContent = "";
    const code = await scanLabel({ jsqr: window.moiraConfig.jsqr });
    if (!code) return;
    const found = await findUnit(code);
    if (found.error) {
      message.textContent = `${display(code)}: ${found.error}`;
      return;
    }
    onUnit(found.unit, code);
  });
  return h("div", { class: "picker" }, button, message);
}

// Lots: the server's (cached offline) and the ones made on this phone --------------------------------

async function knownLots(ctx) {
  const plant = ctx.state.plant.id;
  const items = (await queue.all()).filter((i) => i.kind === "lot" && i.status !== "attention" && i.summary.plant === plant);
  const lots = ctx.lots().map((lot) => ({ ...lot }));
  for (const item of items.reverse()) {
    if (item.status === "done" && item.result && item.result.id != null) {
      if (!lots.some((l) => l.id === item.result.id)) lots.unshift({ ...item.result });
    } else {
      lots.unshift({ ref: item.key, code: item.summary.code, products: [], runs: [], outputs: [], pending: true });
    }
  }
  return lots;
}

function lotChoice({ lots, value, onchange, test = "lot-choice" }) {
  if (!lots.length) return h("p", { class: "hint" }, t("No lot yet: reserve units into a new lot first."));
  const key = (lot) => (lot.id != null ? `id${lot.id}` : `ref${lot.ref}`);
  return choice({
    test, value: value ? key(value) : null,
    options: lots.slice(0, 12).map((lot) => [key(lot), `${lot.code}${lot.pending ? ` (${t("not sent yet")})` : ""}`]),
    onchange: (k) => {
      const lot = lots.find((l) => key(l) === k);
      localStorage.setItem("moira.lastLot", lot.code);
      onchange(lot);
    },
  });
}

function lastLot(lots) {
  const code = localStorage.getItem("moira.lastLot");
  return lots.find((l) => l.code === code) || null;
}

// Intake: the slip, then its units ---------------------------------------------------------------------

export async function intake(root, ctx) {
  const plant = ctx.state.plant;
  let current = JSON.parse(localStorage.getItem("moira.intake") || "null");
  if (current && current.plant !== plant.id) current = null;

  const slipForm = async () => {
    const slip = input({ name: "slip_number", required: true, test: "slip-number", enterkeyhint: "next" });
    const supplier = input({ name: "supplier", test: "supplier" });
    const received = input({ type: "date", name: "received_on", value: clock.dateIn(clock.tap().serverMs, plant.timezone), test: "received-on" });
    const expected = stepper({ name: "expected_count", value: 10, min: 1, max: 10000, test: "expected-count" });
    const items = (await queue.all()).filter((i) => i.kind === "intake" && i.status === "pending" && i.summary.plant === plant.id);
    const open = [
      ...items.map((i) => ({ ref: i.key, slip_number: i.summary.slip_number, expected_count: i.summary.expected_count, pending: true })),
      ...ctx.intakes().filter((i) => i.registered_count < i.expected_count),
    ].slice(0, 6);
    const form = h("form", { class: "form", test: "slip-form", onsubmit: async (event) => {
      event.preventDefault();
      if (!slip.value.trim()) { slip.focus(); return; }
      const tap = clock.tap();
      const body = { plant: plant.id, slip_number: slip.value.trim(), supplier: supplier.value.trim(), received_on: received.value,
        expected_count: parseInt(expected.querySelector("input").value, 10) || 1 };
      const item = await ctx.act({ kind: "intake", path: "intakes/", body, tap, summary: { ...body } });
      if (item.status === "attention") return;
      current = { key: item.key, id: item.result ? item.result.id : null, slip_number: body.slip_number, expected_count: body.expected_count,
        plant: plant.id, baseline: 0, openedAt: tap.deviceMs };
      localStorage.setItem("moira.intake", JSON.stringify(current));
      draw();
    } },
    h("h1", {}, t("Intake: the slip")),
    field(t("Slip number"), slip), field(t("Supplier (optional)"), supplier), field(t("Received on"), received),
    field(t("Units on the slip"), expected),
    h("button", { type: "submit", class: "btn primary huge", test: "slip-save" }, t("Register the slip")));
    return [form, open.length ? card(h("h2", {}, t("Or continue a slip")), h("div", { class: "choices" }, open.map((i) => h("button", {
      type: "button", class: "btn choice", test: "slip-continue", onclick: () => {
        current = { key: i.ref || null, id: i.id != null ? i.id : null, slip_number: i.slip_number, expected_count: i.expected_count,
          plant: plant.id, baseline: i.registered_count || 0, openedAt: Date.now() };
        localStorage.setItem("moira.intake", JSON.stringify(current));
        draw();
      } }, `${i.slip_number} (${i.registered_count != null ? i.registered_count : 0}/${i.expected_count})`)))) : null];
  };

  const unitForm = async () => {
    const intakeRef = current.id != null ? current.id : await queue.idOrRef(current.key);
    if (typeof intakeRef === "number") current.id = intakeRef;
    const mine = (await queue.all()).filter((i) => i.kind === "product" && i.status !== "attention" && i.createdAt >= current.openedAt
      && ((current.key && i.summary.intakeKey === current.key) || (current.id != null && i.summary.intakeId === current.id)));
    const count = current.baseline + mine.length;
    const remembered = JSON.parse(localStorage.getItem("moira.unitDefaults") || "{}");
    let kind = remembered.kind || "vending_machine";
    let code = null;
    let nameplatePhoto = null;
    const codeShown = h("p", { class: "code big", test: "unit-code" }, t("No label yet"));
    const maker = input({ name: "maker", value: remembered.maker || "", test: "maker" });
    const model = input({ name: "model", value: remembered.model || "", test: "model" });
    const serial = input({ name: "serial_number", test: "serial" });
    const selections = input({ name: "selection_count", type: "number", inputmode: "numeric", min: "1", max: "200", value: remembered.selection_count || "", test: "selections" });
    const year = input({ name: "manufactured_year", type: "number", inputmode: "numeric", min: "1950", max: "2100", test: "year" });
    const ocrBox = h("div", { class: "ocr", test: "ocr-box" });
    const selectionsField = field(t("Selections (buttons)"), selections);
    const scanButton = h("button", { type: "button", class: "btn primary", test: "unit-scan" }, t("Scan the new label"));
    scanButton.addEventListener("click", async () => {
      const read = await scanLabel({ jsqr: window.moiraConfig.jsqr, title: t("Scan the label you stuck on the unit") });
      if (read) { code = read; codeShown.textContent = display(read); }
    });
    const nameplateButton = h("button", { type: "button", class: "btn", test: "nameplate-photo" }, t("Read the nameplate (photo)"));
    nameplateButton.addEventListener("click", async () => {
      const file = await pickFile();
      if (!file) return;
      nameplatePhoto = file;
      clear(ocrBox, h("p", { class: "big" }, t("Reading the nameplate…")));
      const answer = await upload("nameplates/", { image: file, kind, plant: plant.id });
      if (!answer.ok) {
        if (answer.offline) {
          clear(ocrBox, h("p", { class: "banner warn", test: "ocr-offline" }, t("No network: type the nameplate. The photo is kept and sent with the unit.")));
        } else {
          nameplatePhoto = null;
          clear(ocrBox, h("p", { class: "banner error", role: "alert", test: "ocr-error" }, errorText(answer.data, answer.status)));
        }
        return;
      }
      nameplatePhoto = null; // the server kept it already
      const s = answer.data.suggestions || {};
      const rows = [[t("Maker"), s.maker, maker], [t("Model"), s.model, model], [t("Serial number"), s.serial_number, serial], [t("Year"), s.manufactured_year, year]];
      const found = rows.filter(([, v]) => v != null && v !== "");
      clear(ocrBox, card(
        h("h2", {}, t("The nameplate says")),
        found.length ? kv(found.map(([label, value]) => [label, String(value)])) : h("p", {}, t("Nothing readable: type the values.")),
        found.length ? h("div", { class: "row" },
          h("button", { type: "button", class: "btn primary", test: "ocr-use", onclick: () => {
            for (const [, value, box] of found) { box.value = String(value); box.classList.add("from-ocr"); }
            clear(ocrBox, h("p", { class: "hint", test: "ocr-used" }, t("Check the highlighted values against the plate, then save.")));
          } }, t("Use these values")),
          h("button", { type: "button", class: "btn", onclick: () => clear(ocrBox) }, t("Ignore"))) : null,
        h("details", {}, h("summary", {}, t("Text read")), h("pre", { class: "ocr-text" }, answer.data.text || ""))));
    });
    const kindChoice = choice({ test: "kind", value: kind, options: [["vending_machine", t("Vending machine")], ["vehicle", t("Vehicle")]],
      onchange: (k) => { kind = k; selectionsField.hidden = k === "vehicle"; } });
    selectionsField.hidden = kind === "vehicle";

    const form = h("form", { class: "form", test: "unit-form", onsubmit: async (event) => {
      event.preventDefault();
      const tap = clock.tap();
      const body = {
        plant: plant.id, intake: intakeRef, kind, label: code || "", maker: maker.value.trim(), model: model.value.trim(),
        serial_number: serial.value.trim(), selection_count: kind === "vending_machine" && selections.value ? parseInt(selections.value, 10) : null,
        manufactured_year: year.value ? parseInt(year.value, 10) : null,
      };
      if (!code && !(await ask({ title: t("Save the unit without a label?"), detail: t("Scan its label now if it has one."), yes: t("Save without label") }))) return;
      const summary = { code: code || "", label: code ? display(code) : "", kind, maker: body.maker, model: body.model,
        serial_number: body.serial_number, plant: plant.id, intakeKey: current.key, intakeId: current.id };
      const item = await ctx.act({ kind: "product", path: "products/", body, tap, summary });
      if (item.status === "attention") return;
      if (nameplatePhoto) {
        await queue.enqueue({ kind: "nameplate", path: "nameplates/", tap, summary: { unit: summary.label },
          form: { fields: { kind, product: await queue.idOrRef(item.key) }, files: [{ field: "image", blob: nameplatePhoto, filename: nameplatePhoto.name || "nameplate.jpg" }] } });
        queue.sync();
      }
      localStorage.setItem("moira.unitDefaults", JSON.stringify({ kind, maker: body.maker, model: body.model, selection_count: selections.value }));
      draw();
    } },
    h("div", { class: "row spread" }, h("h1", {}, t("Slip %(slip)s", { slip: current.slip_number })),
      h("span", { class: "count big", test: "unit-count" }, `${count} / ${current.expected_count}`)),
    card(h("h2", {}, t("1. Label")), codeShown, scanButton),
    card(h("h2", {}, t("2. Nameplate")), nameplateButton, ocrBox, kindChoice,
      field(t("Maker"), maker), field(t("Model"), model), field(t("Serial number"), serial), selectionsField, field(t("Year made"), year)),
    h("button", { type: "submit", class: "btn primary huge", test: "unit-save" }, t("Save the unit")),
    h("button", { type: "button", class: "btn", test: "slip-done", onclick: () => {
      current = null;
      localStorage.removeItem("moira.intake");
      draw();
    } }, t("Finish this slip")));
    return form;
  };

  const draw = async () => clear(root, current ? await unitForm() : await slipForm());
  await draw();
}

// Labels: print a PET sheet, relabel a unit, put a first label on one ---------------------------------

export async function label(root, ctx) {
  const plant = ctx.state.plant;
  const count = stepper({ name: "count", value: 40, min: 1, max: 500, test: "sheet-count" });
  const skip = input({ type: "number", name: "skip", value: "0", min: "0", max: "39", inputmode: "numeric", test: "sheet-skip" });
  const print = h("button", { type: "button", class: "btn primary huge", test: "sheet-open", onclick: () => {
    if (!navigator.onLine) { toast(t("Printing needs the network: new codes come from the server."), "error"); return; }
    const n = parseInt(count.querySelector("input").value, 10) || 40;
    window.open(`/labels/sheet.pdf?plant=${plant.id}&count=${n}&skip=${parseInt(skip.value, 10) || 0}`, "_blank", "noopener");
  } }, t("Print new labels (PDF)"));

  const relabelBox = h("div", {});
  const startRelabel = (unit) => {
    let reason = "faded";
    let newCode = null;
    const other = input({ name: "reason_other", placeholder: t("Reason"), test: "relabel-other" });
    const shown = h("p", { class: "code big", test: "relabel-new-code" }, "—");
    clear(relabelBox, unitCard(unit),
      h("button", { type: "button", class: "btn primary", test: "relabel-scan", onclick: async () => {
        newCode = await scanLabel({ jsqr: window.moiraConfig.jsqr, title: t("Scan the new label") });
        shown.textContent = newCode ? display(newCode) : "—";
      } }, t("Scan the new label")), shown,
      h("h2", {}, t("Why?")),
      choice({ test: "relabel-reason", value: reason, onchange: (r) => { reason = r; },
        options: [["faded", t("Faded")], ["damaged", t("Damaged")], ["lost", t("Lost")], ["wrong_unit", t("On the wrong unit")], ["other", t("Other")]] }),
      field(t("Details"), other),
      h("button", { type: "button", class: "btn primary huge", test: "relabel-save", onclick: async () => {
        if (!newCode) { toast(t("Scan the new label first."), "error"); return; }
        const reasons = { faded: "faded (UV)", damaged: "damaged", lost: "lost", wrong_unit: "was on the wrong unit", other: "other" };
        const text = [reasons[reason], other.value.trim()].filter(Boolean).join(": ");
        const tap = clock.tap();
        const path = ["products/", idOrRefOf(unit), unit.label ? "/relabel/" : "/label/"];
        const body = unit.label ? { new_code: newCode, reason: text } : { code: newCode };
        const item = await ctx.act({ kind: unit.label ? "relabel" : "attach", path, body, tap,
          summary: { ...unitSummary(unit), code: newCode, new_code: display(newCode), unitData: { ...unit, label: display(newCode) } } });
        if (item.status !== "attention") clear(relabelBox);
      } }, unit.label ? t("Replace the label") : t("Attach the label")));
  };
  clear(root,
    h("h1", {}, t("Labels")),
    card(h("h2", {}, t("Print a sheet of new labels")), field(t("How many"), count), field(t("Positions already used on the sheet"), skip), print,
      h("p", { class: "hint" }, t("Weatherproof PET sheets, 4 x 10 labels, laser printer at 100 %."))),
    card(h("h2", {}, t("Replace a faded or damaged label")),
      unitPicker({ title: t("Scan the old label"), onUnit: startRelabel, test: "relabel-pick" }), relabelBox));
}

// Identify a unit by its label -------------------------------------------------------------------------

export async function identify(root, ctx) {
  const result = h("div", { test: "identify-result" });
  const show = (unit) => {
    sessionStorage.setItem("moira.unit", JSON.stringify(unit));
    clear(result, unitCard(unit), h("div", { class: "row" },
      h("a", { class: "btn", href: "#/dismantle/current", test: "identify-dismantle" }, t("Dismantle")),
      h("a", { class: "btn", href: "#/reserve/current", test: "identify-reserve" }, t("Reserve")),
      h("a", { class: "btn", href: "#/label", test: "identify-relabel" }, t("Relabel"))));
  };
  clear(root, h("h1", {}, t("Identify a unit")), unitPicker({ onUnit: show, test: "identify-scan" }), result);
}

// Dismantle: tap the removed parts; a pattern button pre-selects its preset ---------------------------

export async function dismantle(root, ctx, which) {
  const body = h("div", {});
  const start = (unit) => {
    const kind = unit.kind || "vending_machine";
    const parts = ctx.state.parts[kind] || [];
    const presets = (ctx.state.config.presets || {})[kind] || {};
    let pattern = null;
    const chosen = new Set();
    const photos = [];
    const partBox = h("div", { class: "parts", test: "parts" });
    const photoBox = h("div", { class: "row", test: "photos" });
    const drawParts = () => clear(partBox, parts.map((part) => h("button", {
      type: "button", class: `btn part${chosen.has(part.id) ? " on" : ""}`, "aria-pressed": String(chosen.has(part.id)),
      test: `part-${part.code}`, onclick: () => {
        if (chosen.has(part.id)) chosen.delete(part.id); else chosen.add(part.id);
        pattern = matchPreset();
        patternBox.replaceWith(patternBox = patternChoice());
        drawParts();
      },
    }, partName(part), part.legally_required ? h("small", { class: "legal" }, t("by law")) : null)));
    const codesOf = (ids) => parts.filter((p) => ids.has(p.id)).map((p) => p.code).sort().join(",");
    const matchPreset = () => Object.keys(presets).find((name) => [...presets[name]].sort().join(",") === codesOf(chosen)) || "custom";
    const patternChoice = () => choice({
      test: "pattern", value: pattern, options: PATTERNS().filter(([key]) => key === "custom" || presets[key]),
      onchange: (p) => {
        pattern = p;
        if (presets[p]) {
          chosen.clear();
          parts.filter((part) => presets[p].includes(part.code)).forEach((part) => chosen.add(part.id));
          drawParts();
        }
      },
    });
    let patternBox = patternChoice();
    drawParts();
    clear(body, unitCard(unit),
      h("h2", {}, t("Pattern")), patternBox,
      h("h2", {}, t("Removed parts")), partBox,
      h("h2", {}, t("Photos")), photoBox,
      h("button", { type: "button", class: "btn", test: "dismantle-photo", onclick: async () => {
        const file = await pickFile();
        if (file) {
          photos.push(file);
          photoBox.append(h("img", { class: "thumb", src: URL.createObjectURL(file), alt: "" }));
        }
      } }, t("Add a photo")),
      h("button", { type: "button", class: "btn primary huge", test: "dismantle-save", onclick: async () => {
        if (!chosen.size) { toast(t("Tap the parts that were removed."), "error"); return; }
        const tap = clock.tap();
        const summary = unitSummary(unit);
        const item = await ctx.act({ kind: "dismantling", path: "dismantlings/", tap, summary,
          body: { product: idOrRefOf(unit), pattern: pattern || "custom", performed_at: tap.iso, parts: [...chosen].map((id) => ({ part: id })) } });
        if (item.status === "attention") return;
        const dismantling = await queue.idOrRef(item.key);
        for (const file of photos) {
          await queue.enqueue({ kind: "photo", path: ["dismantlings/", dismantling, "/photos/"], tap, summary,
            form: { fields: {}, files: [{ field: "image", blob: file, filename: file.name || "photo.jpg" }] } });
        }
        if (photos.length) queue.sync();
        sessionStorage.removeItem("moira.unit");
        clear(body);
      } }, t("Save the dismantling")));
  };
  clear(root, h("h1", {}, t("Dismantle")), unitPicker({ onUnit: start, test: "dismantle-scan" }), body);
  const remembered = which === "current" && JSON.parse(sessionStorage.getItem("moira.unit") || "null");
  if (remembered) start(remembered);
}

// Reserve units for shredding into a lot -------------------------------------------------------------

export async function reserve(root, ctx, which) {
  const plant = ctx.state.plant;
  const lots = (await knownLots(ctx)).filter((lot) => !(lot.runs || []).length);
  let lot = null;
  let creating = true;
  const units = [];
  const now = new Date(clock.tap().serverMs);
  const pad = (n) => String(n).padStart(2, "0");
  const code = input({ name: "lot_code", test: "lot-code",
    value: `${plant.code.toUpperCase()}-${String(now.getFullYear()).slice(2)}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}` });
  const mass = input({ name: "processed_mass_kg", inputmode: "decimal", test: "lot-mass", placeholder: "3300" });
  let method = ctx.state.sortingMethods.filter((m) => m.plant === plant.id)[0] || null;
  const list = h("ul", { class: "items", test: "reserve-units" });
  const drawList = () => clear(list, units.map((unit, index) => h("li", { class: "item" }, h("strong", {}, unit.label || `#${unit.id}`), ` ${unit.maker || ""} ${unit.model || ""}`,
    h("button", { type: "button", class: "btn small", onclick: () => { units.splice(index, 1); drawList(); } }, "×"))));
  const newLot = h("div", {},
    field(t("Lot code"), code), field(t("Processed mass (kg)"), mass),
    h("h2", {}, t("Sorting method")),
    choice({ test: "sorting", value: method && method.id, options: ctx.state.sortingMethods.filter((m) => m.plant === plant.id).map((m) => [m.id, m.name]),
      onchange: (id) => { method = ctx.state.sortingMethods.find((m) => m.id === id); } }));
  const lotBox = h("div", {});
  const drawLot = () => clear(lotBox,
    choice({ test: "lot-mode", value: creating ? "new" : "old", options: [["new", t("New lot")], ["old", t("Existing lot")]],
      onchange: (mode) => { creating = mode === "new"; drawLot(); } }),
    creating ? newLot : lotChoice({ lots, value: lot, onchange: (l) => { lot = l; } }));
  drawLot();
  const add = (unit) => {
    if (units.some((u) => (u.id != null && u.id === unit.id) || (u.ref && u.ref === unit.ref))) { toast(t("This unit is in the list already."), "error"); return; }
    if (unit.lot) { toast(t("This unit is in a lot already."), "error"); return; }
    units.push(unit);
    drawList();
  };
  clear(root, h("h1", {}, t("Reserve units for shredding")), card(h("h2", {}, t("Lot")), lotBox),
    card(h("h2", {}, t("Units")), unitPicker({ title: t("Scan a unit to add"), onUnit: add, test: "reserve-scan" }), list),
    h("button", { type: "button", class: "btn primary huge", test: "reserve-save", onclick: async () => {
      if (!units.length) { toast(t("Scan the units first."), "error"); return; }
      const tap = clock.tap();
      const products = units.map(idOrRefOf);
      if (creating) {
        const kg = decimal(mass.value);
        if (!code.value.trim() || !validMass(kg)) { toast(t("Give the lot code and its mass in kg."), "error"); return; }
        const body = { plant: plant.id, code: code.value.trim(), processed_mass_kg: kg, sorting_method: method ? method.id : null, products };
        const item = await ctx.act({ kind: "lot", path: "lots/", body, tap, summary: { plant: plant.id, code: body.code, count: units.length } });
        if (item.status === "attention") return;
        localStorage.setItem("moira.lastLot", body.code);
      } else {
        if (!lot) { toast(t("Choose the lot."), "error"); return; }
        const item = await ctx.act({ kind: "reserve", path: ["lots/", idOrRefOf(lot), "/reserve/"], body: { products }, tap,
          summary: { lot: lot.code, count: units.length } });
        if (item.status === "attention") return;
        localStorage.setItem("moira.lastLot", lot.code);
      }
      ctx.refresh();
      ctx.go("runs");
    } }, t("Reserve these units")));
  const remembered = which === "current" && JSON.parse(sessionStorage.getItem("moira.unit") || "null");
  if (remembered) add(remembered);
}

// Shredder runs: one big button per line; the time of the tap is the time recorded -------------------

async function openRuns(ctx) {
  const items = (await queue.all()).filter((i) => i.status !== "attention");
  const stops = items.filter((i) => i.kind === "run-stop");
  const stoppedIds = new Set(stops.map((s) => s.summary.runId).filter((id) => id != null));
  const stoppedKeys = new Set(stops.map((s) => s.summary.runKey).filter(Boolean));
  const lotCode = (id) => (ctx.state.lots.find((l) => l.id === id) || {}).code || `#${id}`;
  const runs = ctx.state.openRuns.map((r) => ({ id: r.id, line: r.line, lot: lotCode(r.lot), startedMs: Date.parse(r.started_at) }));
  for (const item of items.filter((i) => i.kind === "run-start")) {
    const id = item.status === "done" && item.result ? item.result.id : null;
    const known = id != null && runs.find((r) => r.id === id);
    if (known) { known.key = item.key; continue; }
    if (id != null && (item.result.ended_at || (ctx.state.openRunsAt && item.doneAt < ctx.state.openRunsAt))) continue;
    runs.push({ id, key: item.key, line: item.summary.lineId, lot: item.summary.lot, startedMs: item.summary.started, pending: item.status === "pending" });
  }
  return runs.filter((r) => !(r.id != null && stoppedIds.has(r.id)) && !(r.key && stoppedKeys.has(r.key)));
}

const elapsed = (ms) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
};

export async function runs(root, ctx) {
  const lines = ctx.lines();
  const open = await openRuns(ctx);
  const lots = await knownLots(ctx);
  let lot = lastLot(lots) || lots[0] || null;
  const clocks = [];
  const cards = lines.map((line) => {
    const run = open.find((r) => r.line === line.id);
    if (run) {
      const since = h("p", { class: "elapsed", test: `elapsed-${line.code}` }, elapsed(clock.tap().serverMs - run.startedMs));
      clocks.push(() => { since.textContent = elapsed(clock.tap().serverMs - run.startedMs); });
      return card(h("h2", {}, line.name || line.code), h("p", { class: "big" }, t("Lot %(lot)s, started %(time)s", { lot: run.lot, time: formatTime(run.startedMs) }),
        run.pending ? ` (${t("not sent yet")})` : ""), since,
      h("button", { type: "button", class: "btn stop giant", test: `run-stop-${line.code}`, onclick: async () => {
        const tap = clock.tap();
        const ok = await ask({ title: t("Stop %(line)s?", { line: line.name || line.code }), yes: t("Stop"), danger: true,
          detail: t("Shredding and sorting of lot %(lot)s ended at %(time)s.", { lot: run.lot, time: formatTime(tap.serverMs) }) });
        if (!ok) return;
        const target = run.id != null ? run.id : await queue.idOrRef(run.key);
        await ctx.act({ kind: "run-stop", path: ["runs/", target, "/stop/"], body: { ended_at: tap.iso }, tap,
          summary: { line: line.code, lineId: line.id, lot: run.lot, runId: run.id, runKey: run.key || null, ended: tap.serverMs } });
        ctx.route();
      } }, t("Stop shredding log")));
    }
    return card(h("h2", {}, line.name || line.code),
      h("button", { type: "button", class: "btn start giant", test: `run-start-${line.code}`, onclick: async () => {
        const tap = clock.tap();
        if (!lot) { toast(t("Choose the lot first."), "error"); return; }
        const ok = await ask({ title: t("Start %(line)s?", { line: line.name || line.code }), yes: t("Start"),
          detail: t("Lot %(lot)s goes into the shredder at %(time)s.", { lot: lot.code, time: formatTime(tap.serverMs) }) });
        if (!ok) return;
        await ctx.act({ kind: "run-start", path: ["lots/", idOrRefOf(lot), "/runs/"], body: { line: line.id, started_at: tap.iso }, tap,
          summary: { line: line.code, lineId: line.id, lot: lot.code, started: tap.serverMs } });
        ctx.route();
      } }, t("Start shredding log")));
  });
  clear(root, h("h1", {}, t("Shredder")),
    card(h("h2", {}, t("Lot to shred")), lotChoice({ lots, value: lot, onchange: (l) => { lot = l; } })),
    lines.length ? cards : h("p", {}, t("This plant has no line.")),
    clock.info() ? null : h("p", { class: "banner warn" }, t("The clock offset is not measured yet; times use this phone's clock.")));
  const timer = setInterval(() => { if (!root.isConnected) clearInterval(timer); else clocks.forEach((f) => f()); }, 1000);
}

// Weigh the outputs of a lot ---------------------------------------------------------------------------

export async function weigh(root, ctx) {
  const lots = await knownLots(ctx);
  let lot = lastLot(lots) || lots[0] || null;
  let fraction = "magnetic";
  const mass = input({ name: "mass_kg", inputmode: "decimal", class: "input huge-input", test: "output-mass", placeholder: "0.0" });
  clear(root, h("h1", {}, t("Weigh the outputs")),
    card(h("h2", {}, t("Lot")), lotChoice({ lots, value: lot, onchange: (l) => { lot = l; } })),
    card(h("h2", {}, t("What")), choice({ test: "fraction", value: fraction, options: FRACTIONS(), onchange: (f) => { fraction = f; } })),
    card(field(t("Mass (kg)"), mass)),
    h("button", { type: "button", class: "btn primary huge", test: "output-save", onclick: async () => {
      const kg = decimal(mass.value);
      if (!lot || !validMass(kg)) { toast(t("Choose the lot and type the mass in kg."), "error"); return; }
      const tap = clock.tap();
      const item = await ctx.act({ kind: "output", path: "outputs/", body: { lot: idOrRefOf(lot), fraction, mass_kg: kg, weighed_at: tap.iso }, tap,
        summary: { lot: lot.code, fraction, fractionLabel: FRACTIONS().find(([f]) => f === fraction)[1], mass_kg: kg } });
      if (item.status !== "attention") mass.value = "";
    } }, t("Record the weight")));
}

// Ship magnetic product, drawn from one or more lots -----------------------------------------------------

export async function ship(root, ctx) {
  const plant = ctx.state.plant;
  const lots = await knownLots(ctx);
  const buyers = ctx.state.organisations.filter((o) => o.id !== plant.organisation);
  let buyer = null;
  const code = input({ name: "shipment_code", test: "shipment-code" });
  const total = h("p", { class: "big", test: "ship-total" }, "0 kg");
  const verdict = h("div", { test: "ship-verdict", "aria-live": "polite" });
  const boxes = lots.slice(0, 10).map((lot) => {
    const box = input({ name: `lot-${lot.code}`, inputmode: "decimal", test: `ship-lot-${lot.code}`, placeholder: "0" });
    box.addEventListener("input", () => { total.textContent = `${sum().toFixed(3).replace(/\.?0+$/, "")} kg`; clear(verdict); });
    return [lot, box];
  });
  const sum = () => boxes.reduce((acc, [, box]) => acc + (Number(decimal(box.value)) || 0), 0);
  clear(root, h("h1", {}, t("Ship")),
    card(h("h2", {}, t("Buyer")), buyers.length ? choice({ test: "buyer", value: null, options: buyers.map((b) => [b.id, b.name]),
      onchange: (id) => { buyer = buyers.find((b) => b.id === id); clear(verdict); } }) : h("p", {}, t("No buyer is known yet."))),
    card(h("h2", {}, t("Mass from each lot (kg)")), boxes.map(([lot, box]) => field(lot.code, box)), total),
    card(field(t("Shipment number (optional)"), code)),
    verdict,
    h("button", { type: "button", class: "btn primary huge", test: "ship-save", onclick: async () => {
      const allocations = boxes.filter(([, box]) => decimal(box.value)).map(([lot, box]) => ({ lot: idOrRefOf(lot), mass_kg: decimal(box.value), code: lot.code }));
      if (!buyer || !allocations.length || allocations.some((a) => !validMass(a.mass_kg))) { toast(t("Choose the buyer and the mass from each lot."), "error"); return; }
      const rows = allocations.map(({ lot, mass_kg }) => ({ lot, mass_kg }));
      if (!(await buyerAccepts(verdict, { plant: plant.id, buyer: buyer.id, allocations: rows }, buyer))) return;
      const kg = (allocations.reduce((grams, a) => grams + Math.round(Number(a.mass_kg) * 1000), 0) / 1000).toFixed(3);
      const tap = clock.tap();
      const item = await ctx.act({ kind: "shipment", path: "shipments/", tap, summary: { buyer: buyer.name, mass_kg: kg },
        body: { plant: plant.id, buyer: buyer.id, code: code.value.trim(), shipped_at: tap.iso, mass_kg: kg, allocations: rows } });
      if (item.status !== "attention") ctx.route();
    } }, t("Record the shipment")));
}

// Before dispatch: ask the server what the shipment would certify and whether the buyer's conditions hold.
// A breaking plan is flagged to the buyer by the server; the worker decides whether to ship anyway.
// Offline (or with lots not yet sent) the check cannot be made, and the shipment is not held back for it.
async function buyerAccepts(verdict, plan, buyer) {
  if (plan.allocations.some((row) => typeof row.lot !== "number")) return true;
  const answer = await postJSON("shipments/preview/", plan);
  if (!answer.ok) {
    clear(verdict, card(h("p", { class: "reason", test: "ship-verdict-unknown" },
      answer.status ? errorText(answer.data, answer.status) : t("The buyer's conditions could not be checked (no network)."))));
    return answer.status === 0;
  }
  const { acceptance, grade_label: grade, cu_mass_pct: cu, cr_mass_pct: cr } = answer.data;
  const figures = `Cu ${cu ?? "—"} % · Cr ${cr ?? "—"} % · ${grade || "—"}`;
  if (!acceptance || acceptance.met) {
    clear(verdict, card(h("p", { class: "ok", test: "ship-verdict-ok" },
      `${figures} · ${acceptance ? t("meets the buyer's conditions") : t("the buyer set no conditions")}`)));
    return true;
  }
  clear(verdict, card(h("p", { class: "reason", test: "ship-verdict-broken" }, `${figures} · ${acceptance.problems.join("; ")}`)));
  return ask({ title: t("%(buyer)s's conditions are not met", { buyer: buyer.name }),
    detail: `${acceptance.problems.join("; ")}. ${t("The buyer has been told.")}`, yes: t("Ship anyway"), danger: true });
}

export const screens = { intake, label, identify, dismantle, reserve, runs, weigh, ship };
