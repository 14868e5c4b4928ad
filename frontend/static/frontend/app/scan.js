// Reading a label: the camera (native BarcodeDetector, else the jsQR decoder served with the app), a photo
// sent to the server (zbar) when the camera cannot read it, and typing the code, checked as it is typed.
import { upload, errorText } from "moira/api";
import { normalise, display } from "moira/codes";
import { t } from "moira/i18n";
import { h, clear } from "moira/ui";

let jsQRPromise = null;

function loadJsQR(url) {
  if (window.jsQR) return Promise.resolve(window.jsQR);
  if (!jsQRPromise) {
    jsQRPromise = new Promise((resolve, reject) => {
      const script = h("script", { src: url });
      script.onload = () => resolve(window.jsQR);
      script.onerror = () => { jsQRPromise = null; reject(new Error("jsQR")); };
      document.head.append(script);
    });
  }
  return jsQRPromise;
}

async function nativeDetector() {
  if (!("BarcodeDetector" in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    if (!formats.includes("qr_code")) return null;
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    return async (video) => (await detector.detect(video)).map((code) => code.rawValue);
  } catch {
    return null;
  }
}

async function jsDetector(url) {
  const jsQR = await loadJsQR(url);
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  // jsQR's binariser is sensitive to noise and blur: a smaller copy (cheap) often reads what the full frame does not.
  const sides = [400, 800];
  return async (video) => {
    for (const side of sides) {
      const scale = Math.min(1, side / Math.max(video.videoWidth, video.videoHeight));
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      if (!canvas.width || !canvas.height) return [];
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
      const found = jsQR(pixels.data, pixels.width, pixels.height, { inversionAttempts: "attemptBoth" });
      if (found && found.data) return [found.data];
    }
    return [];
  };
}

function frameBlob(video) {
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
}

function manualMessage(result) {
  if (result.ok) return t("Check symbol correct.");
  if (result.reason === "symbol") return t("Only letters and digits of the label.");
  if (result.reason === "check") return t("Check symbol does not match: re-read the label.");
  return t("%(n)s of 9 symbols", { n: result.partial.length });
}

// Resolves with a normalised label code, or null when the worker cancels.
export function scanLabel({ title = t("Scan the QR label"), jsqr, allowCamera = true } = {}) {
  return new Promise((resolve) => {
    let stream = null;
    let stopped = false;
    let torchOn = false;
    const status = h("p", { class: "scan-status big", role: "status", test: "scan-status" }, t("Starting the camera…"));
    const video = h("video", { class: "scan-video", playsinline: true, muted: true, autoplay: true, test: "scan-video" });
    const torch = h("button", { type: "button", class: "btn", hidden: true, test: "scan-torch" }, t("Light"));
    const manual = h("input", {
      class: "input code-input", name: "code", autocomplete: "off", autocapitalize: "characters", spellcheck: "false",
      placeholder: "7KQ2-M9XA-4", "aria-label": t("Type the code"), test: "scan-manual",
    });
    const manualHint = h("span", { class: "hint", test: "scan-manual-hint" }, "");
    const okButton = h("button", { type: "submit", class: "btn primary", disabled: true, test: "scan-manual-ok" }, t("Use this code"));
    const overlay = h("div", { class: "modal scan", role: "dialog", "aria-modal": "true", test: "scanner" });

    const finish = (code) => {
      if (stopped) return;
      stopped = true;
      if (stream) stream.getTracks().forEach((track) => track.stop());
      overlay.remove();
      resolve(code);
    };

    const found = (raw) => {
      const result = normalise(raw);
      if (result.ok) {
        if (navigator.vibrate) navigator.vibrate(120);
        finish(result.code);
        return true;
      }
      status.textContent = t("Not a Moira label: %(data)s", { data: String(raw).slice(0, 40) });
      return false;
    };

    const sendPhoto = async (blob) => {
      if (!blob) return;
      status.textContent = t("Sending the photo to the server…");
      const answer = await upload("scans/", { image: blob });
      if (!answer.ok) {
        status.textContent = answer.offline ? t("No network: type the code instead.") : errorText(answer.data, answer.status);
        return;
      }
      const codes = answer.data.codes || [];
      const label = codes.find((c) => normalise(c.data).ok);
      if (label) found(label.data);
      else status.textContent = codes.length ? t("Not a Moira label: %(data)s", { data: codes[0].data }) : t("The server found no code in the photo.");
    };

    const photo = h("button", { type: "button", class: "btn", test: "scan-photo" }, t("Take a photo for the server"));
    photo.addEventListener("click", () => {
      if (video.videoWidth) {
        frameBlob(video).then(sendPhoto);
        return;
      }
      const picker = h("input", { type: "file", accept: "image/*", capture: "environment", hidden: true, test: "scan-photo-file" });
      picker.addEventListener("change", () => { sendPhoto(picker.files[0]); picker.remove(); });
      overlay.append(picker);
      picker.click();
    });
    const choosePhoto = h("button", { type: "button", class: "btn", test: "scan-photo-choose" }, t("Choose a photo"));
    choosePhoto.addEventListener("click", () => {
      const picker = h("input", { type: "file", accept: "image/*", hidden: true, test: "scan-photo-file" });
      picker.addEventListener("change", () => { sendPhoto(picker.files[0]); picker.remove(); });
      overlay.append(picker);
      picker.click();
    });

    manual.addEventListener("input", () => {
      const result = normalise(manual.value);
      manualHint.textContent = manual.value ? manualMessage(result) : "";
      manualHint.className = `hint ${result.ok ? "good" : manual.value.replace(/[-\s]/g, "").length >= 9 ? "bad" : ""}`;
      okButton.disabled = !result.ok;
      if (result.ok) manual.value = display(result.code);
    });
    const form = h("form", { class: "manual", onsubmit: (event) => {
      event.preventDefault();
      const result = normalise(manual.value);
      if (result.ok) finish(result.code);
    } }, h("label", { class: "field" }, h("span", { class: "field-label" }, t("Or type the code")), manual, manualHint), okButton);

    clear(overlay, h("div", { class: "modal-box scan-box" },
      h("h2", {}, title),
      h("div", { class: "scan-frame" }, video, h("div", { class: "scan-aim" })),
      status,
      h("div", { class: "row" }, torch, photo, choosePhoto),
      form,
      h("button", { type: "button", class: "btn", onclick: () => finish(null), test: "scan-cancel" }, t("Cancel"))));
    document.body.append(overlay);

    const start = async () => {
      if (!allowCamera || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        status.textContent = t("No camera here: take a photo or type the code.");
        return;
      }
      try {
        stream = await navigator.mediaDevices.getUserMedia({
          audio: false, video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
        });
      } catch {
        status.textContent = t("The camera is not available: take a photo or type the code.");
        return;
      }
      if (stopped) { stream.getTracks().forEach((track) => track.stop()); return; }
      video.srcObject = stream;
      await video.play().catch(() => {});
      const [track] = stream.getVideoTracks();
      const caps = track && track.getCapabilities ? track.getCapabilities() : {};
      // iPhones read nothing until continuous focus is applied after the stream starts.
      if (caps.focusMode && caps.focusMode.includes("continuous")) {
        track.applyConstraints({ advanced: [{ focusMode: "continuous" }] }).catch(() => {});
      }
      if (caps.torch) {
        torch.hidden = false;
        torch.addEventListener("click", () => {
          torchOn = !torchOn;
          track.applyConstraints({ advanced: [{ torch: torchOn }] }).catch(() => {});
          torch.classList.toggle("on", torchOn);
        });
      }
      let detect = await nativeDetector();
      if (!detect) {
        try {
          detect = await jsDetector(jsqr);
        } catch {
          status.textContent = t("The decoder did not load: take a photo or type the code.");
          return;
        }
      }
      status.textContent = t("Hold the label inside the frame.");
      const began = Date.now();
      let hinted = false;
      const loop = async () => {
        if (stopped) return;
        if (video.readyState >= 2) {
          try {
            const values = await detect(video);
            for (const value of values) if (found(value)) return;
          } catch {
            // a frame that cannot be read: try the next one
          }
        }
        if (!hinted && Date.now() - began > 8000) {
          hinted = true;
          status.textContent = t("Cannot read it? Use the light, take a photo for the server, or type the code.");
        }
        setTimeout(loop, 120);
      };
      loop();
    };
    start();
  });
}
