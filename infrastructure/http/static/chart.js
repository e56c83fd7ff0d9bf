// The evolution chart: inline SVG built in script (the CSP allows no inline style attribute,
// so colours go through element.style, which it does allow).
import {el} from "./core.js";

export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function drawEvolution(box, points) {
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
