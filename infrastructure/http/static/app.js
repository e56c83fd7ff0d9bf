// ctxstore web page: plain JS modules, no build step. Operations go over the HTTP API under
// /api/v1; the WebSocket /api/v1/ws brings the followed agent's events live.
import {$, API, api, dismiss, el, enc, key, log, page, short, state} from "./core.js";
import {drawEvolution} from "./chart.js";
import {searchText, loadAnalysis} from "./insight.js";
import {capture, clearRestoreForm, loadCheckpoints, restore} from "./packages.js";
import {loadSchedule, startSchedule, stopSchedule} from "./schedule.js";

// Agents ----------------------------------------------------------------------------------
async function loadAgents() {
  try {
    const found = await api("/agents?limit=1000");
    const list = $("agents");
    list.replaceChildren(...found.items.map((a) => el("li", {
      "data-agent": a.agent_id, class: a.agent_id === state.agent ? "selected" : "",
      onclick: () => selectAgent(a.agent_id),
    }, el("span", {}, a.agent_id), el("span", {class: "v"}, `v${a.version}`))));
    if (!found.items.length) list.append(el("li", {class: "muted"}, "no agents yet"));
  } catch (e) { log("err", `agents: ${e.message}`); }
}

// One agent -------------------------------------------------------------------------------
async function selectAgent(agentId) {
  state.agent = agentId;
  document.querySelectorAll("#agents li").forEach(
    (li) => li.classList.toggle("selected", li.dataset.agent === agentId));
  $("empty").hidden = true;
  $("agent-view").hidden = false;
  $("agent-title").textContent = agentId;
  try {
    const now = await api(`/agents/${enc(agentId)}/context`);
    setMax(now.version, true);
    showState(now);
    await Promise.all([loadHistory(), loadEvolution(), loadAnalysis(), loadSchedule()]);
  } catch (e) { log("err", `${agentId}: ${e.message}`); }
  follow([agentId]);
}

// From a search hit: the agent, with the slider at the version that matched.
async function showAgentAt(agentId, version) {
  if (agentId !== state.agent) await selectAgent(agentId);
  $("version-slider").value = version;
  onSlider();
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
    try { showState(await api(`/agents/${enc(state.agent)}/context?version=${version}`)); }
    catch (e) { log("err", e.message); }
  }, 120);
}

async function loadHistory() {
  const items = [];
  let after = 0;
  for (let n = 0; n < 10; n++) { // the last 10 000 events at most
    const body = await api(`/agents/${enc(state.agent)}/events?after_version=${after}&limit=1000`);
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
    const body = await api(`/agents/${enc(state.agent)}/evolution?bucket=${$("bucket").value}`);
    drawEvolution(box, body.points);
  } catch (e) { box.replaceChildren(el("p", {class: "muted"}, e.message)); }
}

// WebSocket: the followed agent's events, live -------------------------------------------
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
  const d = m.data || m; // our replies nest under `data`; the seed's are flat
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
    case "error":
      log("err", d.detail ?? d.message); break;
    default: break;
  }
}

let refreshTimer = null;
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { loadAgents(); loadEvolution(); }, 800);
}

Object.assign(page, {loadAgents, loadAnalysis, selectAgent, setMax, showAgentAt});

function init() {
  $("api-key").value = key();
  $("api-key").addEventListener("change", (e) => {
    localStorage.setItem("ctxstore-api-key", e.target.value.trim());
    if (state.ws) state.ws.close();
    loadAgents(); loadCheckpoints();
  });
  $("version-slider").addEventListener("input", onSlider);
  $("capture-btn").addEventListener("click", capture);
  $("schedule-start").addEventListener("click", startSchedule);
  $("schedule-stop").addEventListener("click", stopSchedule);
  $("restore-btn").addEventListener("click", restore);
  $("restore-clear").addEventListener("click", clearRestoreForm);
  $("bucket").addEventListener("change", loadEvolution);
  $("analysis-period").addEventListener("change", loadAnalysis);
  $("analysis-btn").addEventListener("click", loadAnalysis);
  $("package-search").addEventListener("submit", (e) => { e.preventDefault(); loadCheckpoints(); });
  $("text-search").addEventListener("submit", searchText);
  $("notice-close").addEventListener("click", dismiss);
  $("refresh").addEventListener("click", () => { loadAgents(); loadCheckpoints(); });
  loadAgents();
  loadCheckpoints();
  connect();
}

init();
