// Label codes: 8 Crockford base-32 symbols and a Luhn mod 32 check symbol (port of lots/codes.py).
export const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const VALUE = Object.fromEntries([...ALPHABET].map((symbol, value) => [symbol, value]));
const LOOKALIKES = { O: "0", I: "1", L: "1" };
const URL_TAIL = /\/l\/([0-9A-Za-z-]+)\/?$/;

export function checkSymbol(body) {
  let factor = 2;
  let total = 0;
  const n = ALPHABET.length;
  for (const symbol of [...body].reverse()) {
    const addend = factor * VALUE[symbol];
    factor = factor === 2 ? 1 : 2;
    total += Math.floor(addend / n) + (addend % n);
  }
  return ALPHABET[(n - (total % n)) % n];
}

// {ok: true, code} or {ok: false, reason: "length" | "symbol" | "check", partial}
export function normalise(raw) {
  let text = String(raw || "").trim();
  const url = URL_TAIL.exec(text);
  if (url) text = url[1];
  const code = [...text.toUpperCase().replace(/[-\s]/g, "")].map((c) => LOOKALIKES[c] || c).join("");
  if (code.length && [...code].some((c) => !(c in VALUE))) return { ok: false, reason: "symbol", partial: code };
  if (code.length !== 9) return { ok: false, reason: "length", partial: code };
  if (checkSymbol(code.slice(0, 8)) !== code[8]) return { ok: false, reason: "check", partial: code };
  return { ok: true, code };
}

export function display(code) {
  const c = String(code || "").replace(/-/g, "");
  return c.length === 9 ? `${c.slice(0, 4)}-${c.slice(4, 8)}-${c.slice(8)}` : c;
}
