// Small DOM helpers: big targets, one column, readable at arm's length.
import { t } from "moira/i18n";

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "test") el.dataset.test = value;
    else if (name === "value" || name === "checked") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child != null && child !== false) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c != null && c !== false));
  return el;
}

let toastTimer = null;

// A message at the bottom; errors stay until tapped.
export function toast(message, kind = "ok") {
  const box = document.getElementById("toast");
  clear(box, h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status", test: `toast-${kind}` }, message));
  box.hidden = false;
  clearTimeout(toastTimer);
  if (kind !== "error") toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
  box.onclick = () => { box.hidden = true; };
  if (kind === "error" && navigator.vibrate) navigator.vibrate([80, 60, 80]);
}

// A two-button question that fills the screen: yes on the right under the thumb.
export function ask({ title, detail, yes, no = t("Cancel"), danger = false }) {
  return new Promise((resolve) => {
    const done = (answer) => { dialog.remove(); resolve(answer); };
    const dialog = h("div", { class: "modal", role: "dialog", "aria-modal": "true", test: "ask" },
      h("div", { class: "modal-box" },
        h("h2", {}, title),
        detail ? h("p", { class: "big" }, detail) : null,
        h("div", { class: "row" },
          h("button", { class: "btn", type: "button", onclick: () => done(false), test: "ask-no" }, no),
          h("button", { class: `btn ${danger ? "danger" : "primary"}`, type: "button", onclick: () => done(true), test: "ask-yes" }, yes))));
    document.body.append(dialog);
    dialog.querySelector("[data-test=ask-yes]").focus();
  });
}

export function field(label, input, hint) {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, label), input, hint ? h("span", { class: "hint" }, hint) : null);
}

export function input(attrs) {
  return h("input", { class: "input", autocomplete: "off", ...attrs });
}

// A number with big minus and plus buttons (gloves).
export function stepper({ name, value = 1, min = 1, max = 9999, test }) {
  const box = input({ type: "number", name, value: String(value), min: String(min), max: String(max), inputmode: "numeric", test });
  const bump = (delta) => {
    const next = Math.min(max, Math.max(min, (parseInt(box.value, 10) || 0) + delta));
    box.value = String(next);
    box.dispatchEvent(new Event("input"));
  };
  return h("div", { class: "stepper" },
    h("button", { type: "button", class: "btn step", onclick: () => bump(-1), "aria-label": "-1" }, "−"),
    box,
    h("button", { type: "button", class: "btn step", onclick: () => bump(1), "aria-label": "+1" }, "+"));
}

// One choice among a few, as big toggle buttons.
export function choice({ options, value, onchange, test }) {
  const box = h("div", { class: "choices", role: "radiogroup", test });
  const draw = () => clear(box, options.map(([key, label]) => h("button", {
    type: "button", class: `btn choice${key === value ? " on" : ""}`, role: "radio", "aria-checked": String(key === value),
    test: `${test}-${key}`, onclick: () => { value = key; draw(); onchange(key); },
  }, label)));
  draw();
  return box;
}

export function card(...children) {
  return h("section", { class: "card" }, ...children);
}

export function kv(rows) {
  return h("dl", { class: "kv" }, rows.filter(([, v]) => v != null && v !== "").map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export function pickFile({ capture = true, accept = "image/*" } = {}) {
  return new Promise((resolve) => {
    const picker = h("input", { type: "file", accept, capture: capture ? "environment" : null, hidden: true, test: "file-picker" });
    picker.addEventListener("change", () => { resolve(picker.files[0] || null); picker.remove(); });
    picker.addEventListener("cancel", () => { resolve(null); picker.remove(); });
    document.body.append(picker);
    picker.click();
  });
}
