// SVG charts drawn here: a time-series line chart with axes and legend, and a sparkline.
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, v);
  for (const c of children) if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function timeLabel(ms, span) {
  const d = new Date(ms);
  if (span > 2 * 86400000) return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

// series: [{ name, color, points: [[xMs, y|null], ...] }]; format: y value -> label.
// x0 / x1: the time range drawn (default: that of the points); the svg's __timeAt(x) maps
// a viewBox x back to a time (drag to zoom).
export function lineChart({ series, format = (v) => String(v), width = 560, height = 220, yMax = null, x0: from = null, x1: to = null }) {
  const pad = { l: 56, r: 12, t: 12, b: 28 };
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]).filter((v) => typeof v === "number"));
  const x0 = from ?? Math.min(...xs), x1 = to ?? Math.max(...xs);
  const top = yMax ?? niceMax(Math.max(0, ...ys));
  const bottom = Math.min(0, ...ys);
  const X = (x) => pad.l + ((x - x0) / ((x1 - x0) || 1)) * (width - pad.l - pad.r);
  const Y = (y) => pad.t + (1 - (y - bottom) / ((top - bottom) || 1)) * (height - pad.t - pad.b);
  const buckets = Math.max(0, ...series.map((x) => x.points.length));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "data-points": ys.length, "data-buckets": buckets, "data-series": series.length });
  root.__timeAt = (x) => x0 + ((Math.min(Math.max(x, pad.l), width - pad.r) - pad.l) / (width - pad.l - pad.r)) * (x1 - x0);
  for (let i = 0; i <= 4; i++) {
    const v = bottom + ((top - bottom) * i) / 4;
    root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: Y(v), y2: Y(v), class: "grid" }),
      svg("text", { x: pad.l - 6, y: Y(v) + 4, class: "axis", "text-anchor": "end" }, format(v)));
  }
  const ticks = Math.min(6, xs.length);
  for (let i = 0; i < ticks; i++) {
    const x = x0 + ((x1 - x0) * i) / Math.max(1, ticks - 1);
    root.append(svg("text", { x: X(x), y: height - 8, class: "axis", "text-anchor": i === 0 ? "start" : i === ticks - 1 ? "end" : "middle" }, timeLabel(x, x1 - x0)));
  }
  // Drawn last-to-first so the first series (p50) is on top where lines meet.
  for (const s of [...series].reverse()) {
    let d = "";
    let pen = false;
    for (const [x, y] of s.points) {
      if (typeof y !== "number") { pen = false; continue; }
      d += `${pen ? "L" : "M"}${X(x).toFixed(1)},${Y(y).toFixed(1)}`;
      pen = true;
    }
    root.append(svg("path", { d, class: "line", stroke: s.color, "data-series": s.name }));
    for (const [x, y] of s.points) {
      if (typeof y !== "number") continue;
      root.append(svg("circle", { cx: X(x), cy: Y(y), r: 2.2, fill: s.color, class: "pt" },
        svg("title", {}, `${s.name} ${format(y)} at ${new Date(x).toLocaleString()}`)));
    }
  }
  if (!ys.length) root.append(svg("text", { x: width / 2, y: height / 2, class: "empty", "text-anchor": "middle" }, "no data in this range"));
  const legend = document.createElement("div");
  legend.className = "legend";
  for (const s of series) {
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = s.color;
    item.append(swatch, s.name);
    legend.append(item);
  }
  const figure = document.createElement("div");
  figure.className = "chart-wrap";
  figure.append(root, legend);
  return figure;
}

export function sparkline(points, { min = null, max = null, width = 200, height = 40 } = {}) {
  const ys = points.map((p) => p[1]);
  const lo = min ?? Math.min(...ys), hi = max ?? Math.max(...ys);
  const n = Math.max(1, points.length - 1);
  const X = (i) => 4 + (i / n) * (width - 8);
  const Y = (y) => 4 + (1 - (y - lo) / ((hi - lo) || 1)) * (height - 8);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "spark", "data-points": points.length });
  if (lo < 0 && hi > 0) root.append(svg("line", { x1: 0, x2: width, y1: Y(0), y2: Y(0), class: "grid" }));
  root.append(svg("path", { d: points.map((p, i) => `${i ? "L" : "M"}${X(i).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(""), class: "line", stroke: "#4f46e5" }));
  points.forEach((p, i) => root.append(svg("circle", { cx: X(i), cy: Y(p[1]), r: 2.5, fill: p[1] >= 0 ? "#059669" : "#dc2626" })));
  return root;
}

// A small line over equal buckets; null values leave a gap. data-points: the non-null count.
export function trendline(values, { width = 160, height = 32 } = {}) {
  const ys = values.filter((v) => typeof v === "number");
  const lo = Math.min(0, ...ys), hi = Math.max(...ys, lo + 1e-9);
  const n = Math.max(1, values.length - 1);
  const X = (i) => 2 + (i / n) * (width - 4);
  const Y = (y) => 2 + (1 - (y - lo) / ((hi - lo) || 1)) * (height - 4);
  let d = "";
  let pen = false;
  values.forEach((v, i) => {
    if (typeof v !== "number") { pen = false; return; }
    d += `${pen ? "L" : "M"}${X(i).toFixed(1)},${Y(v).toFixed(1)}`;
    pen = true;
  });
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "trend", "data-points": ys.length, preserveAspectRatio: "none" });
  root.append(svg("line", { x1: 0, x2: width, y1: Y(lo), y2: Y(lo), class: "base" }));
  if (d) root.append(svg("path", { d, class: "line" }));
  values.forEach((v, i) => { if (typeof v === "number") root.append(svg("circle", { cx: X(i), cy: Y(v), r: 1.6, class: "dot" })); });
  return root;
}
