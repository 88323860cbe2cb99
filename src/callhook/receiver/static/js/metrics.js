// Metrics: latency percentiles and hang/error rates over a chosen range, assistants or models
// compared as series, drag across a chart to zoom in; hang pattern tables below.
import { openStream } from "./app.js";
import { lineChart } from "./charts.js";
import { NotAvailable, fmtMs, fmtPct, fmtTime, getJSON, h, notAvailable } from "./util.js";

const MIN = 60e3, HOUR = 3600e3, DAY = 86400e3;
export const RANGES = [["15m", 15 * MIN], ["1h", HOUR], ["6h", 6 * HOUR], ["24h", DAY], ["7d", 7 * DAY]];
// Bucket widths a range is cut into (seconds); the one nearest to a 60th of it is used.
const BUCKETS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const STAGES = [["llm", "LLM response latency"], ["tts", "TTS generation"], ["stt", "STT latency"], ["response", "Bot response time"]];
const DIMENSIONS = [["provider", "Provider"], ["model", "Model"], ["assistant", "Assistant"], ["hour", "Hour of day (UTC)"], ["length_band", "Conversation length"]];
const COLORS = { p50: "#2563eb", p95: "#f59e0b", p99: "#dc2626", hang: "#d97706", error: "#dc2626" };
const PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];
const COMPARE = { assistantId: "assistants", model: "models", provider: "providers" };

// The bucket width (ms) for a span: the listed width nearest to span / 60 (log scale).
export function bucketFor(span) {
  const ideal = span / 60 / 1000;
  let best = BUCKETS_S[0];
  for (const b of BUCKETS_S) if (Math.abs(Math.log(b / ideal)) < Math.abs(Math.log(best / ideal))) best = b;
  return best * 1000;
}

// The default range: the smallest that holds the last 24 hours' calls (24h when none).
export function defaultRange(firstCallAt, now) {
  if (typeof firstCallAt !== "number") return "24h";
  for (const [key, span] of RANGES) if (now - span <= firstCallAt) return key;
  return "24h";
}

function localInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60e3);
  return d.toISOString().slice(0, 16);
}

export async function renderMetrics({ view, params, setDispose }) {
  let filters = { assistants: [], providers: [], models: [], firstCallAt: null };
  try { filters = await getJSON("/api/metrics/filters"); } catch (e) { /* keep empty */ }
  const state = {
    range: params.get("range") || (params.get("since") ? "custom" : defaultRange(filters.firstCallAt, Date.now())),
    since: Number(params.get("since")) || null,
    until: Number(params.get("until")) || null,
    compare: params.get("compare") || "",
    picked: (params.get("values") || "").split(",").filter(Boolean),
    percentile: params.get("percentile") || "p95",
  };
  const select = (id, label, values, current) => h("select", { id },
    label === null ? null : h("option", { value: "" }, label),
    values.map(([v, t]) => h("option", { value: v, selected: v === current }, t)));
  const rangeButtons = h("div", { class: "segmented", id: "metrics-range", role: "group" },
    [...RANGES.map(([k]) => k), "custom"].map((k) => h("button", { type: "button", dataset: { range: k }, onclick: () => pickRange(k) }, k)));
  const sinceInput = h("input", { type: "datetime-local", id: "metrics-since" });
  const untilInput = h("input", { type: "datetime-local", id: "metrics-until" });
  const custom = h("span", { class: "custom-range", id: "metrics-custom" }, sinceInput, " to ", untilInput,
    h("button", { type: "button", id: "metrics-custom-apply", onclick: applyCustom }, "Apply"));
  const assistant = select("metrics-assistant", "all assistants", filters.assistants.map((a) => [a.id, a.name || a.id]), params.get("assistantId"));
  const provider = select("metrics-provider", "all providers", filters.providers.map((p) => [p, p]), params.get("provider"));
  const model = select("metrics-model", "all models", filters.models.map((m) => [m, m]), params.get("model"));
  const compare = select("metrics-compare", "no comparison", [["assistantId", "compare assistants"], ["model", "compare models"], ["provider", "compare providers"]], state.compare);
  const percentile = select("metrics-percentile", null, [["p50", "p50"], ["p95", "p95"], ["p99", "p99"]], state.percentile);
  const choices = h("div", { class: "compare-choices", id: "metrics-compare-values" });
  const latency = h("div", { class: "charts" });
  const rates = h("div", { class: "charts" });
  const patterns = h("div", { class: "patterns" });
  const stamp = h("span", { class: "quiet", id: "metrics-scope" });
  for (const el of [assistant, provider, model, percentile]) el.addEventListener("change", () => load());
  compare.addEventListener("change", () => { state.compare = compare.value; state.picked = []; drawChoices(); load(); });

  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Metrics"), stamp),
    h("div", { class: "filters" }, rangeButtons, custom),
    h("div", { class: "filters" }, assistant, provider, model, compare, percentile, choices),
    h("p", { class: "quiet hint" }, "Drag across a chart to zoom in."),
    h("h2", {}, "Latency"), latency,
    h("h2", {}, "Hangs and errors"), rates,
    h("h2", {}, "Hang patterns"), patterns,
  );

  function pickRange(key) {
    if (key === "custom") {
      const [since, until] = scopeTimes();
      state.since = since; state.until = until;
    }
    state.range = key;
    load();
  }

  function applyCustom() {
    const since = Date.parse(sinceInput.value), until = Date.parse(untilInput.value);
    if (!(since < until)) { stamp.textContent = "the custom range must start before it ends"; return; }
    state.range = "custom"; state.since = since; state.until = until;
    load();
  }

  function drawChoices() {
    const key = COMPARE[state.compare];
    percentile.hidden = !key;
    if (!key) { choices.replaceChildren(); return; }
    const values = key === "assistants" ? filters.assistants.map((a) => [a.id, a.name || a.id]) : filters[key].map((v) => [v, v]);
    if (!state.picked.length) state.picked = values.slice(0, 3).map(([v]) => v);
    choices.replaceChildren(...values.map(([v, label]) => h("label", { class: "check" },
      h("input", { type: "checkbox", value: v, checked: state.picked.includes(v), onchange: (e) => {
        state.picked = e.target.checked ? [...state.picked, v] : state.picked.filter((x) => x !== v);
        load();
      } }), ` ${label}`)));
  }

  function scopeTimes() {
    if (state.range === "custom" && state.since && state.until) return [state.since, state.until];
    const span = Object.fromEntries(RANGES)[state.range] || DAY;
    const until = Date.now();
    return [until - span, until];
  }

  function scope() {
    const [since, until] = scopeTimes();
    const bucketMs = bucketFor(until - since);
    const aligned = Math.floor(since / bucketMs) * bucketMs;
    return { since: aligned, until, bucket: bucketMs / 1000, assistantId: assistant.value, provider: provider.value, model: model.value };
  }

  // One request per selection when comparing (the selection replaces that filter).
  function selections(q) {
    if (!COMPARE[state.compare] || !state.picked.length) return null;
    const names = Object.fromEntries(filters.assistants.map((a) => [a.id, a.name || a.id]));
    return state.picked.map((v, i) => ({ name: state.compare === "assistantId" ? names[v] || v : v, color: PALETTE[i % PALETTE.length], q: { ...q, [state.compare]: v } }));
  }

  // Loads may overlap (a live refresh, a click): only the newest one draws.
  let generation = 0;
  async function load() {
    const mine = ++generation;
    const q = scope();
    for (const b of rangeButtons.children) b.classList.toggle("active", b.dataset.range === state.range);
    sinceInput.value = localInput(q.since); untilInput.value = localInput(q.until);
    const hashParams = new URLSearchParams(state.range === "custom" ? { since: q.since, until: q.until } : { range: state.range });
    if (state.compare) { hashParams.set("compare", state.compare); hashParams.set("values", state.picked.join(",")); hashParams.set("percentile", percentile.value); }
    history.replaceState(null, "", `#/metrics?${hashParams}`);
    const series = selections(q);
    const pct = percentile.value;
    const charts = await Promise.all(STAGES.map(async ([stage, title]) => {
      if (series) {
        const results = await Promise.all(series.map((s) => getJSON("/api/metrics/latency", { ...s.q, stage })));
        return card(`${title} (${pct})`, `latency-${stage}`, zoomable(lineChart({
          series: series.map((s, i) => ({ name: s.name, color: s.color, points: results[i].points.map((p) => [p.start, p[pct]]) })),
          format: fmtMs, x0: q.since, x1: q.until,
        })), `${results.reduce((n, r) => n + r.points.reduce((m, p) => m + p.count, 0), 0)} samples`);
      }
      const r = await getJSON("/api/metrics/latency", { ...q, stage });
      return card(`${title} (p50 / p95 / p99)`, `latency-${stage}`, zoomable(lineChart({
        series: ["p50", "p95", "p99"].map((p) => ({ name: p, color: COLORS[p], points: r.points.map((pt) => [pt.start, pt[p]]) })),
        format: fmtMs, x0: q.since, x1: q.until,
      })), `${r.points.reduce((s, p) => s + p.count, 0)} samples`);
    }));
    if (mine !== generation) return;
    latency.replaceChildren(...charts);
    const rateRuns = series || [{ name: null, q }];
    const results = await Promise.all(rateRuns.map((s) => getJSON("/api/metrics/rates", s.q)));
    if (mine !== generation) return;
    const calls = results.reduce((n, r) => n + r.points.reduce((m, p) => m + p.calls, 0), 0);
    const rateChart = (key, label, color) => zoomable(lineChart({
      series: rateRuns.map((s, i) => ({ name: s.name || label, color: s.color || color, points: results[i].points.map((p) => [p.start, p[key]]) })),
      format: fmtPct, x0: q.since, x1: q.until,
    }));
    rates.replaceChildren(
      card("Hang rate (calls with a hang)", "rate-hang", rateChart("hangRate", "hang rate", COLORS.hang), `${calls} calls`),
      card("Error rate (calls with an error)", "rate-error", rateChart("errorRate", "error rate", COLORS.error), `${calls} calls`),
    );
    const buckets = results[0].points.length;
    stamp.textContent = `${fmtTime(q.since)} – ${fmtTime(q.until)} · ${buckets} buckets of ${bucketLabel(q.bucket * 1000)}`;
    stamp.dataset.buckets = String(buckets);
    stamp.dataset.bucketMs = String(q.bucket * 1000);
    const tables = await Promise.all(DIMENSIONS.map(([dim, title]) => patternTable(dim, title, q)));
    if (mine === generation) patterns.replaceChildren(...tables);
  }

  // Drag across a chart: the range under the drag becomes the custom range.
  function zoomable(figure) {
    const chart = figure.querySelector("svg.chart");
    const band = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    band.setAttribute("class", "zoom-band");
    band.setAttribute("y", "0");
    band.setAttribute("height", chart.viewBox.baseVal.height);
    let start = null;
    const timeAt = (event) => {
      const box = chart.getBoundingClientRect();
      const x = ((event.clientX - box.left) / box.width) * chart.viewBox.baseVal.width;
      return { x, t: chart.__timeAt(x) };
    };
    chart.addEventListener("mousedown", (event) => {
      event.preventDefault();
      start = timeAt(event);
      band.setAttribute("x", start.x); band.setAttribute("width", 0);
      chart.append(band);
    });
    chart.addEventListener("mousemove", (event) => {
      if (!start) return;
      const at = timeAt(event);
      band.setAttribute("x", Math.min(start.x, at.x)); band.setAttribute("width", Math.abs(at.x - start.x));
    });
    const finish = (event) => {
      if (!start) return;
      const end = timeAt(event);
      const from = Math.min(start.t, end.t), to = Math.max(start.t, end.t);
      start = null;
      band.remove();
      if (to - from < 1000) return; // a click, not a drag
      state.range = "custom"; state.since = Math.round(from); state.until = Math.round(to);
      load();
    };
    chart.addEventListener("mouseup", finish);
    chart.addEventListener("mouseleave", (event) => { if (start) finish(event); });
    return figure;
  }

  // Live: new events refresh the page at most every 5 seconds (pushed, not polled).
  let timer = null;
  let last = 0;
  openStream(null, () => {
    if (timer || state.range === "custom") return;
    const wait = Math.max(0, 5000 - (Date.now() - last));
    timer = setTimeout(() => { timer = null; last = Date.now(); load(); }, wait);
  });
  setDispose(() => clearTimeout(timer));
  last = Date.now();
  drawChoices();
  await load();
}

function bucketLabel(ms) {
  if (ms < MIN) return `${ms / 1000} s`;
  if (ms < HOUR) return `${ms / MIN} min`;
  if (ms < DAY) return `${ms / HOUR} h`;
  return `${ms / DAY} d`;
}

function card(title, id, body, note) {
  return h("section", { class: "card", id }, h("div", { class: "card-head" }, h("h3", {}, title), h("span", { class: "quiet" }, note)), body);
}

async function patternTable(dimension, title, q) {
  const box = h("section", { class: "card pattern", id: `pattern-${dimension}` }, h("h3", {}, title));
  try {
    const r = await getJSON("/api/patterns", { kind: "hang", dimension, since: q.since, until: q.until });
    const rows = [...r.rows].sort((a, b) => (b.ratePerCall ?? 0) - (a.ratePerCall ?? 0));
    const worst = Math.max(0.0001, ...rows.map((x) => x.ratePerCall ?? 0));
    box.append(h("table", { class: "grid-table" },
      h("thead", {}, h("tr", {}, ["", "calls", "turns", "hangs", "per call", "per turn"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.length ? rows.map((x) => h("tr", {},
        h("td", {}, x.key ?? "—"), h("td", { class: "num" }, x.calls), h("td", { class: "num", title: "user turns (length bands: estimated)" }, Math.round(x.turns)), h("td", { class: "num" }, x.incidents),
        h("td", { class: "num" }, h("span", { class: "ratebar", style: `width:${((x.ratePerCall ?? 0) / worst) * 60}px` }), fmtPct(x.ratePerCall)),
        h("td", { class: "num" }, fmtPct(x.ratePerTurn)))) : h("tr", {}, h("td", { colspan: 6, class: "empty" }, "no calls in this range")))));
  } catch (error) {
    box.append(error instanceof NotAvailable ? notAvailable("Pattern analysis") : h("div", { class: "quiet" }, error.message));
  }
  return box;
}
