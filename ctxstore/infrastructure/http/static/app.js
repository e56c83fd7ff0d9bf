// ctxstore web page: plain JS, no build step. Talks to /api/v1 and the WebSocket /api/v1/ws.
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);
const state = {
  agent: null, version: 0, checkpoints: [], ws: null, pending: {}, nextId: 1,
  restoreFrom: null, // a checkpoint chosen as the restore source (else the slider's version)
};

function key() { return localStorage.getItem("ctxstore-api-key") || ""; }

async function api(path, options = {}) {
  const headers = Object.assign({"Content-Type": "application/json"}, options.headers || {});
  if (key()) headers["X-API-Key"] = key();
  const response = await fetch(API + path, Object.assign({}, options, {headers}));
  const body = response.headers.get("content-type")?.includes("json")
    ? await response.json() : await response.text();
  if (!response.ok) {
    const detail = (body && body.detail) || response.statusText;
    throw new Error(`${response.status}: ${detail}`);
  }
  return body;
}

function el(tag, attrs = {}, ...children) {
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

function short(value, n = 120) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

function log(kind, text) {
  const list = $("activity");
  list.prepend(el("li", {class: kind}, `${new Date().toLocaleTimeString()} ${text}`));
  while (list.children.length > 200) list.lastChild.remove();
}

// Agents and checkpoints ------------------------------------------------------------------
async function loadAgents() {
  try {
    const page = await api("/agents?limit=1000");
    const list = $("agents");
    list.replaceChildren(...page.items.map((a) => el("li", {
      "data-agent": a.agent_id, class: a.agent_id === state.agent ? "selected" : "",
      onclick: () => selectAgent(a.agent_id),
    }, el("span", {}, a.agent_id), el("span", {class: "v"}, `v${a.version}`))));
    if (!page.items.length) list.append(el("li", {class: "muted"}, "no agents yet"));
  } catch (e) { log("err", `agents: ${e.message}`); }
}

async function loadCheckpoints() {
  try {
    const page = await api("/context/packages?limit=200");
    state.checkpoints = page.items;
    const list = $("checkpoints");
    list.replaceChildren(...page.items.map((c) => el("li", {
      class: "ckpt", "data-package": c.package_id, title: c.package_id,
    },
    el("div", {class: "row"}, el("b", {}, c.label || "(no label)"),
      el("span", {class: `badge ${c.access_level}`}, c.access_level)),
    el("div", {class: "row muted"}, el("span", {}, `${c.agent_id} v${c.version}`),
      el("span", {}, `${c.message_count} msgs · ratio ${c.compression_ratio} (${Math.round(c.space_saving * 100)} % saved)`)),
    el("div", {class: "row"},
      el("button", {class: "link", onclick: () => chooseCheckpoint(c)}, "restore from…"),
      el("button", {class: "link", onclick: () => exportCheckpoint(c)}, "export")))));
    if (!page.items.length) list.append(el("li", {class: "muted"}, "no checkpoints yet"));
  } catch (e) { log("err", `checkpoints: ${e.message}`); }
}

async function exportCheckpoint(c) {
  const headers = key() ? {"X-API-Key": key()} : {};
  const response = await fetch(`${API}/context/packages/${encodeURIComponent(c.package_id)}/export`, {headers});
  if (!response.ok) { log("err", `export failed: ${response.status}`); return; }
  const blob = await response.blob();
  const link = el("a", {href: URL.createObjectURL(blob), download: `${c.package_id}.ctxpkg`});
  link.click();
  log("ok", `exported ${c.package_id}`);
}

function chooseCheckpoint(c) {
  state.restoreFrom = c;
  $("restore-source").textContent = `checkpoint “${c.label || c.package_id}” (${c.agent_id} v${c.version})`;
  $("restore-clear").hidden = false;
  if (!state.agent) $("empty").textContent = "Choose the agent to restore into, or type a target.";
}

// One agent -------------------------------------------------------------------------------
async function selectAgent(agentId) {
  state.agent = agentId;
  document.querySelectorAll("#agents li").forEach(
    (li) => li.classList.toggle("selected", li.dataset.agent === agentId));
  $("empty").hidden = true;
  $("agent-view").hidden = false;
  $("agent-title").textContent = agentId;
  const now = await api(`/agents/${agentId}/context`);
  setMax(now.version, true);
  showState(now);
  await Promise.all([loadHistory(), loadEvolution()]);
  follow([agentId]);
}

function setMax(version, moveToEnd) {
  const slider = $("version-slider");
  const atEnd = Number(slider.value) === Number(slider.max);
  slider.max = version;
  $("slider-max").textContent = version;
  $("agent-meta").textContent = `${version} events`;
  if (moveToEnd || atEnd) slider.value = version;
}

function showState(ctx) {
  state.version = ctx.version;
  $("state-version").textContent = ctx.version;
  $("state-messages").textContent = ctx.messages.length;
  $("state-tools").textContent = ctx.tool_calls.length;
  $("state-memories").textContent = Object.keys(ctx.memories).length;
  $("state-threads").textContent = Object.keys(ctx.reasoning).length;
  $("state-hash").textContent = ctx.content_hash;
  $("state-message-list").replaceChildren(...ctx.messages.slice(-40).map((m) => el("li", {},
    el("span", {class: `role ${m.role}`}, m.role), short(m.content))));
  $("state-memory-list").replaceChildren(...Object.entries(ctx.memories).slice(0, 40).map(
    ([id, m]) => el("li", {}, el("b", {}, id), ` (${m.kind}) `, short(m.content, 80))));
  if (!state.restoreFrom) $("restore-source").textContent = `${state.agent} at version ${ctx.version}`;
  document.querySelectorAll("#history li").forEach(
    (li) => li.classList.toggle("future", Number(li.dataset.version) > ctx.version));
}

let sliderTimer = null;
function onSlider() {
  clearTimeout(sliderTimer);
  const version = Number($("version-slider").value);
  sliderTimer = setTimeout(async () => {
    try { showState(await api(`/agents/${state.agent}/context?version=${version}`)); }
    catch (e) { log("err", e.message); }
  }, 120);
}

async function loadHistory() {
  const items = [];
  let after = 0;
  for (let page = 0; page < 10; page++) { // the last 10 000 events at most
    const body = await api(`/agents/${state.agent}/events?after_version=${after}&limit=1000`);
    items.push(...body.items);
    if (body.next_after_version === null) break;
    after = body.next_after_version;
  }
  $("history-count").textContent = `newest first`;
  $("history").replaceChildren(...items.slice(-300).reverse().map(historyItem));
}

function historyItem(item) {
  const what = item.type === "message" ? `${item.data.role}: ${short(item.data.content, 90)}`
    : item.type === "context_restored"
      ? `restored from ${item.data.provenance.source_agent_id} v${item.data.provenance.source_version}`
      : item.type === "checkpoint_taken" ? `checkpoint ${item.data.label || item.data.package_id || ""}`
        : short(item.data, 90);
  return el("li", {"data-version": item.version,
    class: item.version > state.version ? "future" : ""},
  el("span", {class: "t"}, `v${item.version} ${item.type}`), what);
}

// The evolution chart (inline SVG) --------------------------------------------------------
async function loadEvolution() {
  const box = $("evolution");
  try {
    const body = await api(`/agents/${state.agent}/evolution?bucket=${$("bucket").value}`);
    drawEvolution(box, body.points);
  } catch (e) { box.replaceChildren(el("p", {class: "muted"}, e.message)); }
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawEvolution(box, points) {
  if (!points.length) {
    box.replaceChildren(el("p", {class: "muted"},
      "No evolution data yet: the projection worker has not read this agent's events."));
    return;
  }
  const W = 720, H = 220, L = 40, R = 40, T = 10, B = 34;
  const series = [
    ["messages", "#2f6fed"], ["tool_calls", "#8a4fd1"], ["memories_stored", "#1f9d55"],
    ["tool_errors", "#d64545"],
  ];
  const maxBar = Math.max(1, ...points.map((p) => series.reduce((s, [k]) => s + p[k], 0)));
  const maxVersion = Math.max(1, ...points.map((p) => p.version));
  const slot = (W - L - R) / points.length;
  const bar = Math.max(2, Math.min(40, slot * 0.7));
  const chart = svg("svg", {viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "context evolution"});
  chart.append(svg("line", {class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B}));
  for (const f of [0, 0.5, 1]) {
    const y = H - B - f * (H - T - B);
    chart.append(svg("line", {class: "axis", x1: L, y1: y, x2: W - R, y2: y,
      "stroke-dasharray": "2 3"}));
    chart.append(svg("text", {x: L - 6, y: y + 3, "text-anchor": "end"}, Math.round(f * maxBar)));
    chart.append(svg("text", {x: W - R + 6, y: y + 3}, Math.round(f * maxVersion)));
  }
  const line = [];
  points.forEach((p, i) => {
    const x = L + i * slot + (slot - bar) / 2;
    let y = H - B;
    for (const [name, color] of series) {
      const h = (p[name] / maxBar) * (H - T - B);
      if (h > 0) {
        const rect = svg("rect", {x, y: y - h, width: bar, height: h, fill: color, rx: 1});
        rect.append(svg("title", {}, `${p.start}\n${name}: ${p[name]}`));
        chart.append(rect);
        y -= h;
      }
    }
    line.push(`${L + i * slot + slot / 2},${H - B - (p.version / maxVersion) * (H - T - B)}`);
    if (points.length <= 12 || i % Math.ceil(points.length / 12) === 0) {
      const label = new Date(p.start).toLocaleString([], {month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit"});
      chart.append(svg("text", {x: L + i * slot + slot / 2, y: H - B + 14,
        "text-anchor": "middle"}, label));
    }
  });
  chart.append(svg("polyline", {points: line.join(" "), fill: "none", stroke: "#c98a00",
    "stroke-width": 2}));
  points.forEach((p, i) => {
    const [x, y] = line[i].split(",");
    const dot = svg("circle", {cx: x, cy: y, r: 3, fill: "#c98a00"});
    const ratio = p.total_compression_ratio ? ` · compression ratio ${p.total_compression_ratio.toFixed(2)}` : "";
    dot.append(svg("title", {}, `version ${p.version}, ${p.live_memories} memories${ratio}`));
    chart.append(dot);
  });
  chart.append(svg("text", {x: L, y: H - 4}, "events per bucket"));
  chart.append(svg("text", {x: W - R, y: H - 4, "text-anchor": "end"}, "version (line)"));
  const legend = el("div", {class: "legend"},
    ...series.map(([name, color]) => el("span", {}, el("i", {style: `background:${color}`}),
      name.replace("_", " "))),
    el("span", {}, el("i", {style: "background:#c98a00"}), "version"));
  box.replaceChildren(chart, legend);
}

// WebSocket: live events, capture and restore ----------------------------------------------
// A browser cannot set headers on a WebSocket, and a key in the URL ends up in access logs: the
// key travels as a subprotocol, `ctxstore.key.<base64url of the key>`, beside `ctxstore` (the
// one the server answers with).
function wsProtocols() {
  if (!key()) return ["ctxstore"];
  const bytes = new TextEncoder().encode(key());
  const b64 = btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return ["ctxstore", `ctxstore.key.${b64}`];
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}${API}/ws`, wsProtocols());
  state.ws = ws;
  ws.onopen = () => {
    $("live").textContent = "live"; $("live").className = "pill on";
    if (state.agent) follow([state.agent]);
  };
  ws.onclose = () => {
    $("live").textContent = "offline"; $("live").className = "pill off";
    setTimeout(connect, 2000);
  };
  ws.onmessage = (message) => onMessage(JSON.parse(message.data));
}

function send(message) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
    log("err", "not connected"); return null;
  }
  const id = state.nextId++;
  state.ws.send(JSON.stringify(Object.assign({request_id: id}, message)));
  return id;
}

let followed = [];
function follow(agentIds) {
  if (followed.length) send({action: "unfollow", agent_ids: followed});
  followed = agentIds;
  send({action: "follow", agent_ids: agentIds});
}

function onMessage(m) {
  const d = m.data || {};
  switch (m.type) {
    case "event":
      log("ev", `${d.agent_id} v${d.version} ${d.type}`);
      if (d.agent_id === state.agent) {
        setMax(d.version, false);
        $("history").prepend(historyItem(d));
        if (Number($("version-slider").value) === d.version) onSlider();
      }
      scheduleRefresh();
      break;
    case "context_capture_started":
      log("", `capturing ${d.agent_id}…`); break;
    case "context_captured":
      log("ok", `captured ${d.agent_id} v${d.version} as ${d.package_id} ` +
        `(${d.original_size_bytes} → ${d.compressed_size_bytes} bytes)`);
      loadCheckpoints(); break;
    case "context_restoration_started":
      log("", `restoring into ${d.target_agent_id || d.source_agent_id || "…"}…`); break;
    case "context_restored":
      log("ok", `restored ${d.target_agent_id} (${d.mode}) from ${d.source_agent_id} ` +
        `v${d.source_version} → v${d.target_version} in ${d.duration_ms} ms`);
      loadAgents();
      clearRestoreForm();
      if (d.target_agent_id !== state.agent) selectAgent(d.target_agent_id);
      break;
    case "error":
      log("err", d.detail); break;
    default: break;
  }
}

let refreshTimer = null;
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { loadAgents(); loadEvolution(); }, 800);
}

function capture() {
  if (!state.agent) return;
  const message = {action: "capture", agent_id: state.agent,
    version: Number($("version-slider").value), access_level: $("capture-access").value};
  const label = $("capture-label").value.trim();
  if (label) message.label = label;
  send(message);
}

function restore() {
  const target = $("restore-target").value.trim() || state.agent;
  const message = {action: "restore", merge_strategy: $("restore-strategy").value,
    target_agent_id: target};
  if (state.restoreFrom) {
    message.package_id = state.restoreFrom.package_id;
  } else {
    if (!state.agent) return;
    message.source_agent_id = state.agent;
    message.version = Number($("version-slider").value);
  }
  send(message);
}

function clearRestoreForm() {
  state.restoreFrom = null;
  $("restore-clear").hidden = true;
  $("restore-target").value = "";
  if (state.agent) {
    $("restore-source").textContent = `${state.agent} at version ${$("version-slider").value}`;
  }
}

function init() {
  $("api-key").value = key();
  $("api-key").addEventListener("change", (e) => {
    localStorage.setItem("ctxstore-api-key", e.target.value.trim());
    if (state.ws) state.ws.close();
    loadAgents(); loadCheckpoints();
  });
  $("version-slider").addEventListener("input", onSlider);
  $("capture-btn").addEventListener("click", capture);
  $("restore-btn").addEventListener("click", restore);
  $("restore-clear").addEventListener("click", clearRestoreForm);
  $("bucket").addEventListener("change", loadEvolution);
  $("refresh").addEventListener("click", () => { loadAgents(); loadCheckpoints(); });
  loadAgents();
  loadCheckpoints();
  connect();
}

init();
