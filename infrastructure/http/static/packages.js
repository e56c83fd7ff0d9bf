// Checkpoints (the seed's context packages) over the HTTP API: the list with sizes and ratio,
// keyword search over it, capture with a session, restore into a target with a validation
// level and merge strategy, export. Each operation ends in a notification.
import {
  $, API, busy, bytes, el, enc, fixed, key, log, notify, page, percent, post, problem,
  request, short, sizes, state,
} from "./core.js";

const LIST_LIMIT = 100;

// Keywords as the API takes them: all must match; the box separates them with commas.
function keywords() {
  return $("package-keywords").value.split(",").map((k) => k.trim()).filter(Boolean);
}

export async function loadCheckpoints() {
  const query = new URLSearchParams({limit: String(LIST_LIMIT)});
  for (const word of keywords()) query.append("keywords", word);
  const answer = await request(`/context/packages?${query}`);
  if (!answer.ok) {
    // Not the old list under a new search: say the search failed, and show nothing.
    $("packages-total").textContent = "";
    $("checkpoints").replaceChildren(el("li", {class: "muted"}, "could not be listed"));
    notify(false, `Checkpoints could not be listed: ${problem(answer)}`);
    return;
  }
  const items = answer.body.packages ?? answer.body.items ?? [];
  const total = answer.body.total ?? items.length;
  state.checkpoints = items;
  const filtered = keywords().length ? " matching" : "";
  $("packages-total").textContent = items.length < total
    ? `${items.length} of ${total}${filtered}` : `${total}${filtered}`;
  const list = $("checkpoints");
  list.replaceChildren(...items.map(packageItem));
  if (!items.length) {
    list.append(el("li", {class: "muted"},
      keywords().length ? "no checkpoint holds all these keywords" : "no checkpoints yet"));
  }
}

function packageItem(c) {
  const s = sizes(c);
  return el("li", {class: "ckpt", "data-package": c.package_id, title: c.package_id},
    el("div", {class: "row"}, el("b", {}, c.label || "(no label)"),
      el("span", {class: `badge ${c.access_level}`}, c.access_level)),
    el("div", {class: "row muted"}, el("span", {}, `${c.agent_id} v${c.version}`),
      el("span", {}, `${c.message_count} msgs`)),
    c.session_id ? el("div", {class: "row muted session"}, `session ${c.session_id}`) : null,
    el("div", {class: "row muted sizes"},
      el("span", {class: "size", "data-original": s.original ?? "",
        "data-compressed": s.compressed ?? "",
        title: `${s.original} → ${s.compressed} bytes`},
      `${bytes(s.original)} → ${bytes(s.compressed)}`),
      el("span", {class: "ratio", "data-ratio": s.ratio ?? "",
        title: "compression ratio: compressed ÷ original"},
      `ratio ${fixed(s.ratio)} (${percent(s.saving)} saved)`)),
    el("div", {class: "row"},
      el("button", {class: "link", onclick: () => chooseCheckpoint(c)}, "restore from…"),
      el("button", {class: "link", onclick: () => exportCheckpoint(c)}, "export")));
}

async function exportCheckpoint(c) {
  const headers = key() ? {"X-API-Key": key()} : {};
  const response = await fetch(`${API}/context/packages/${enc(c.package_id)}/export`, {headers});
  if (!response.ok) { notify(false, `Export of ${c.package_id} failed: ${response.status}`); return; }
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

// Capture ----------------------------------------------------------------------------------
export async function capture() {
  if (!state.agent) return;
  const agent = state.agent;
  const body = {
    version: Number($("version-slider").value), access_level: $("capture-access").value,
    include_memory: $("capture-memory").checked,
    include_mcp_state: $("capture-mcp").checked,
    include_conversation: $("capture-conversation").checked,
  };
  const label = $("capture-label").value.trim();
  if (label) body.label = label;
  const session = $("capture-session").value.trim();
  if (session) body.session_id = session;
  log("", `capturing ${agent} v${body.version}…`);
  const answer = await busy($("capture-btn"), () => post(`/context/capture/${enc(agent)}`, body));
  if (!answer.ok) {
    notify(false, `Capture of ${agent} failed: ${problem(answer)}`);
    return;
  }
  const c = answer.body;
  const s = sizes(c);
  notify(true, `Captured ${agent} v${c.version} as ${c.package_id}`, [
    c.session_id ? `session ${c.session_id}` : null,
    `${s.original} → ${s.compressed} bytes, ratio ${fixed(s.ratio)} (${percent(s.saving)} saved)`,
  ]);
  log("ok", `captured ${agent} v${c.version} as ${c.package_id}`);
  await loadCheckpoints();
  // The capture is an event of the agent: its history grew (the WebSocket says so too), and
  // its analysis has one package more.
  if (agent === state.agent) {
    if (c.event_version) page.setMax(c.event_version, false);
    await page.loadAnalysis();
  }
}

// Restore ----------------------------------------------------------------------------------
export async function restore() {
  const target = $("restore-target").value.trim() || state.agent;
  if (!target) { notify(false, "Restore: name the agent to restore into"); return; }
  const options = {validation_level: $("restore-validation").value,
    merge_strategy: $("restore-strategy").value};
  let answer, from;
  if (state.restoreFrom) {
    from = state.restoreFrom.package_id;
    answer = await busy($("restore-btn"), () => post(`/context/restore/${enc(from)}`,
      Object.assign({target_agent_id: target}, options)));
  } else {
    if (!state.agent) return;
    const version = Number($("version-slider").value);
    from = `${state.agent} v${version}`;
    answer = await busy($("restore-btn"), () => post(`/agents/${enc(target)}/restore`,
      Object.assign({source_agent_id: state.agent, version}, options)));
  }
  const body = answer.body || {};
  // The seed's answer carries `success`; ours before it did not (a 2xx was the success).
  const success = answer.ok && (body.success ?? true);
  if (!success) {
    notify(false, `Restore of ${from} into ${target} failed: ` +
      (answer.ok ? short(body.validation_result ?? body.restoration_details ?? body, 200)
        : problem(answer)), validationLines(body.validation_result));
    return;
  }
  const d = Object.assign({}, body.restoration_details || {}, body);
  notify(true, `Restored ${target} (${d.mode}) from ${from}`, [
    `${d.source_agent_id} v${d.source_version} → ${target} v${d.target_version}`,
    `${options.validation_level} validation, ${options.merge_strategy}`,
    ...validationLines(body.validation_result),
    d.content_hash ? `content hash ${d.content_hash}` : null,
  ]);
  log("ok", `restored ${target} (${d.mode}) from ${d.source_agent_id} ` +
    `v${d.source_version} → v${d.target_version} in ${Math.round(d.duration_ms)} ms`);
  clearRestoreForm();
  await page.loadAgents();
  if (target !== state.agent) await page.selectAgent(target);
  else if (d.target_version) page.setMax(d.target_version, false);
}

// What the seed's `validation_result` says, whatever its exact shape: its plain fields.
function validationLines(result) {
  if (!result || typeof result !== "object") return [];
  return Object.entries(result)
    .filter(([, value]) => value === null || typeof value !== "object")
    .slice(0, 8).map(([name, value]) => `validation ${name}: ${value}`);
}

export function clearRestoreForm() {
  state.restoreFrom = null;
  $("restore-clear").hidden = true;
  $("restore-target").value = "";
  if (state.agent) {
    $("restore-source").textContent = `${state.agent} at version ${$("version-slider").value}`;
  }
}
