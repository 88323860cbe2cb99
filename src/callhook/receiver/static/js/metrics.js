// Metrics: latency percentiles and hang/error rates over time, and hang pattern tables.
import { openStream } from "./app.js";
import { lineChart } from "./charts.js";
import { NotAvailable, fmtMs, fmtPct, getJSON, h, notAvailable } from "./util.js";

const RANGES = [["1h", 3600e3], ["6h", 6 * 3600e3], ["24h", 86400e3], ["7d", 7 * 86400e3], ["30d", 30 * 86400e3]];
const STAGES = [["llm", "LLM response latency"], ["tts", "TTS generation"], ["stt", "STT latency"], ["response", "Bot response time"]];
const DIMENSIONS = [["provider", "Provider"], ["model", "Model"], ["assistant", "Assistant"], ["hour", "Hour of day (UTC)"], ["length_band", "Conversation length"]];
const COLORS = { p50: "#2563eb", p95: "#f59e0b", p99: "#dc2626", hang: "#d97706", error: "#dc2626" };

export async function renderMetrics({ view, params, setDispose }) {
  let filters = { assistants: [], providers: [], models: [] };
  try { filters = await getJSON("/api/metrics/filters"); } catch (e) { /* keep empty */ }
  const select = (id, label, values, current) => h("select", { id },
    h("option", { value: "" }, label), values.map(([v, t]) => h("option", { value: v, selected: v === current }, t)));
  const range = select("metrics-range", "range", RANGES.map(([k]) => [k, `last ${k}`]), params.get("range") || "24h");
  range.firstChild.remove();
  const assistant = select("metrics-assistant", "all assistants", filters.assistants.map((a) => [a.id, a.name || a.id]), params.get("assistantId"));
  const provider = select("metrics-provider", "all providers", filters.providers.map((p) => [p, p]), params.get("provider"));
  const model = select("metrics-model", "all models", filters.models.map((m) => [m, m]), params.get("model"));
  const latency = h("div", { class: "charts" });
  const rates = h("div", { class: "charts" });
  const patterns = h("div", { class: "patterns" });
  const stamp = h("span", { class: "quiet" });
  for (const el of [range, assistant, provider, model]) el.addEventListener("change", () => load());

  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Metrics"), stamp),
    h("div", { class: "filters" }, range, assistant, provider, model),
    h("h2", {}, "Latency (p50 / p95 / p99)"), latency,
    h("h2", {}, "Hangs and errors"), rates,
    h("h2", {}, "Hang patterns"), patterns,
  );

  function scope() {
    const span = Object.fromEntries(RANGES)[range.value] || 86400e3;
    const until = Date.now();
    return { since: Math.floor(until - span), until, bucket: Math.max(1, Math.round(span / 1000 / 48)), assistantId: assistant.value, provider: provider.value, model: model.value };
  }

  async function load() {
    const q = scope();
    const results = await Promise.all(STAGES.map(([stage]) => getJSON("/api/metrics/latency", { ...q, stage })));
    latency.replaceChildren(...results.map((r, i) => card(STAGES[i][1], `latency-${STAGES[i][0]}`, lineChart({
      series: ["p50", "p95", "p99"].map((p) => ({ name: p, color: COLORS[p], points: r.points.map((pt) => [pt.start, pt[p]]) })),
      format: fmtMs,
    }), `${r.points.reduce((s, p) => s + p.count, 0)} samples`)));
    const r = await getJSON("/api/metrics/rates", q);
    const calls = r.points.reduce((s, p) => s + p.calls, 0);
    rates.replaceChildren(
      card("Hang rate (calls with a hang)", "rate-hang", lineChart({ series: [{ name: "hang rate", color: COLORS.hang, points: r.points.map((p) => [p.start, p.hangRate]) }], format: fmtPct }), `${calls} calls`),
      card("Error rate (calls with an error)", "rate-error", lineChart({ series: [{ name: "error rate", color: COLORS.error, points: r.points.map((p) => [p.start, p.errorRate]) }], format: fmtPct }), `${calls} calls`),
    );
    patterns.replaceChildren(...await Promise.all(DIMENSIONS.map(([dim, title]) => patternTable(dim, title, q))));
    stamp.textContent = `updated ${new Date().toLocaleTimeString()}`;
  }

  // Live: new events refresh the page at most every 5 seconds (pushed, not polled).
  let timer = null;
  let last = 0;
  openStream(null, () => {
    if (timer) return;
    const wait = Math.max(0, 5000 - (Date.now() - last));
    timer = setTimeout(() => { timer = null; last = Date.now(); load(); }, wait);
  });
  setDispose(() => clearTimeout(timer));
  last = Date.now();
  await load();
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
