// Full-text search of what agents saw (GET /search) and the seed's analyze_context_evolution of
// one agent over a time period (GET /agents/{id}/analysis). Both read the projections.
import {$, api, bytes, el, enc, fixed, notify, page, percent, short, state} from "./core.js";

export async function searchText(event) {
  if (event) event.preventDefault();
  const q = $("text-q").value.trim();
  const box = $("text-hits");
  if (!q) { box.replaceChildren(); $("text-count").textContent = ""; return; }
  try {
    const body = await api(`/search?${new URLSearchParams({q, all: "true", limit: "50"})}`);
    $("text-count").textContent = `${body.hits.length} found`;
    box.replaceChildren(...body.hits.map((hit) => el("li", {
      "data-agent": hit.agent_id, "data-version": hit.version,
      title: `${hit.agent_id} at version ${hit.version}`,
      onclick: () => page.showAgentAt(hit.agent_id, hit.version),
    }, el("span", {class: "t"}, `${hit.agent_id} v${hit.version} ${hit.source}`),
    short(hit.snippet, 160))));
    if (!body.hits.length) box.append(el("li", {class: "muted"}, "nothing holds all of it"));
  } catch (e) {
    notify(false, `Search failed: ${e.message}`);
  }
}

// One figure of the analysis: its name, its value as shown, and its raw value for readers.
function figure(name, label, value, shown = value) {
  return el("div", {"data-figure": name, "data-value": value ?? ""},
    el("dt", {}, label), el("dd", {}, shown ?? "–"));
}

function trendText(trend) {
  if (!trend || trend.first === null || trend.first === undefined) return "–";
  return `${trend.direction} (${bytes(trend.first)} → ${bytes(trend.last)})`;
}

export async function loadAnalysis() {
  if (!state.agent) return;
  const box = $("analysis");
  const period = $("analysis-period").value;
  try {
    const a = await api(`/agents/${enc(state.agent)}/analysis?time_period=${enc(period)}`);
    const eff = a.compression_efficiency || {};
    const content = a.content_evolution || {};
    $("analysis-span").textContent =
      `${new Date(a.since).toLocaleString()} – ${new Date(a.until).toLocaleString()}`;
    box.replaceChildren(
      figure("total_packages", "packages", a.total_packages),
      figure("average_compression_ratio", "average ratio", eff.average_compression_ratio,
        fixed(eff.average_compression_ratio)),
      figure("space_saving", "space saved", eff.space_saving, percent(eff.space_saving)),
      figure("bytes_saved", "bytes saved", eff.bytes_saved, bytes(eff.bytes_saved)),
      figure("size_trend", "size", a.size_trend?.direction, trendText(a.size_trend)),
      figure("messages_in_period", "messages", content.messages_in_period),
      figure("tool_calls_in_period", "tool calls", content.tool_calls_in_period),
      figure("memories_added", "memories added", content.memories_added),
      figure("memories_forgotten", "memories forgotten", content.memories_forgotten));
  } catch (e) {
    box.replaceChildren(el("p", {class: "muted"}, e.message));
  }
}
