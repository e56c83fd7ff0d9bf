// What every part of the page shares: the API call, element building, the activity log and the
// notification. Plain ES modules, no build step; the page's CSP allows scripts from here only.

export const API = "/api/v1";
export const $ = (id) => document.getElementById(id);
export const state = {
  agent: null, version: 0, checkpoints: [], ws: null, nextId: 1,
  restoreFrom: null, // a checkpoint chosen as the restore source (else the slider's version)
};
// Filled by app.js: what the other parts call back into (agents list, choosing an agent, …).
export const page = {};

export function key() { return localStorage.getItem("ctxstore-api-key") || ""; }

export const enc = encodeURIComponent;

// The answer whatever its status: {ok, status, body}. The key goes in a header, never the URL.
export async function request(path, options = {}) {
  const headers = Object.assign({"Content-Type": "application/json"}, options.headers || {});
  if (key()) headers["X-API-Key"] = key();
  let response;
  try {
    response = await fetch(API + path, Object.assign({}, options, {headers}));
  } catch (e) {
    return {ok: false, status: 0, body: {detail: `network: ${e.message}`}};
  }
  const body = response.headers.get("content-type")?.includes("json")
    ? await response.json() : await response.text();
  return {ok: response.ok, status: response.status, body};
}

export function problem(answer) {
  const detail = (answer.body && answer.body.detail) || answer.body || "no answer";
  return answer.status ? `${answer.status}: ${detail}` : String(detail);
}

// The body of a successful answer; an Error with the status and detail otherwise.
export async function api(path, options = {}) {
  const answer = await request(path, options);
  if (!answer.ok) throw new Error(problem(answer));
  return answer.body;
}

export function post(path, body) {
  return request(path, {method: "POST", body: JSON.stringify(body)});
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name === "style") node.style.cssText = value; // a style attribute breaks the CSP
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

export function short(value, n = 120) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

export function log(kind, text) {
  const list = $("activity");
  list.prepend(el("li", {class: kind}, `${new Date().toLocaleTimeString()} ${text}`));
  while (list.children.length > 200) list.lastChild.remove();
}

// The one visible outcome of an operation the user asked for, in a live region (role=status)
// that is always in the page, empty and unseen until there is news, so screen readers announce
// it; it stays until the next one or until dismissed; the activity log keeps them all.
export function notify(ok, text, details = []) {
  const box = $("notice");
  box.dataset.outcome = ok ? "success" : "failure";
  $("notice-text").textContent = text;
  $("notice-details").replaceChildren(...details.filter(Boolean).map((d) => el("li", {}, d)));
  log(ok ? "ok" : "err", text);
}

export function dismiss() {
  delete $("notice").dataset.outcome;
  $("notice-text").textContent = "";
  $("notice-details").replaceChildren();
}

// Runs an operation with its button disabled, so one click is one request.
export async function busy(button, operation) {
  button.disabled = true;
  try { return await operation(); } finally { button.disabled = false; }
}

export function bytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return "–";
  const units = ["B", "KB", "MB", "GB"];
  let value = Number(n), unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return unit ? `${value.toFixed(1)} ${units[unit]}` : `${value} B`;
}

// A package's sizes and the seed's ratio (compressed ÷ original) whichever names it carries.
export function sizes(p) {
  const original = p.original_size_bytes ?? null;
  const compressed = p.compressed_size_bytes ?? p.size_bytes ?? null;
  const ratio = p.compression_ratio ?? (original ? compressed / original : null);
  const saving = p.space_saving ?? (ratio === null ? null : 1 - ratio);
  return {original, compressed, ratio, saving};
}

export function percent(fraction) {
  return fraction === null || fraction === undefined ? "–" : `${Math.round(fraction * 100)} %`;
}

export function fixed(value, digits = 3) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}
