// Overview, the home page: what is live now, and the last hour and today against the period
// before, each figure with a sparkline and a link to the filtered view. Live: stored events
// (server-sent) trigger a refresh of the figures, at most one every REFRESH_MS.
import { openStream } from "./app.js";
import { trendline } from "./charts.js";
import { fmtMs, fmtPct, getJSON, h } from "./util.js";

const REFRESH_MS = 2000;
const IDLE_REFRESH_MS = 15000;

// [key, label, format, link(window), better] — better: which direction is good.
const FIGURES = [
  ["calls", "Calls", (v) => (v ?? 0).toLocaleString(), (w) => `#/calls?since=${w.since}&until=${w.until}`, null],
  ["hangRate", "Hang rate", fmtPct, (w) => `#/calls?hasHang=true&since=${w.since}&until=${w.until}`, "down"],
  ["errorRate", "Error rate", fmtPct, (w) => `#/calls?hasError=true&since=${w.since}&until=${w.until}`, "down"],
  ["responseP50", "Response p50", fmtMs, (w) => `#/metrics?since=${w.since}&until=${w.until}`, "down"],
  ["responseP95", "Response p95", fmtMs, (w) => `#/metrics?since=${w.since}&until=${w.until}`, "down"],
  ["alerts", "Alerts fired", (v) => (v ?? 0).toLocaleString(), (w) => `#/alerts?since=${w.since}`, "down"],
];

function localMidnight(now) {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

function raw(value) {
  return value === null || value === undefined ? "" : String(value);
}

export async function renderOverview({ view, setDispose }) {
  const stamp = h("span", { class: "quiet", id: "overview-updated" });
  const live = h("div", { class: "tiles live-tiles", id: "overview-live" });
  const hour = h("div", { class: "tiles", id: "overview-hour" });
  const today = h("div", { class: "tiles", id: "overview-today" });
  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Overview"), stamp),
    h("h2", {}, "Live now"), live,
    h("h2", {}, "Last hour ", h("span", { class: "quiet" }, "vs the hour before")), hour,
    h("h2", {}, "Today ", h("span", { class: "quiet" }, "vs yesterday at this time")), today,
  );

  function liveTile(key, label, value, href, note) {
    return h("a", { class: "tile", href, dataset: { figure: `live.${key}`, value: raw(value) } },
      h("div", { class: "tile-label" }, label),
      h("div", { class: "tile-value" }, (value ?? 0).toLocaleString()),
      note ? h("div", { class: "tile-note" }, note) : null);
  }

  function windowTiles(name, pair) {
    return FIGURES.map(([key, label, format, link, better]) => {
      const value = pair.current[key];
      const before = pair.previous[key];
      let delta = null;
      if (typeof value === "number" && typeof before === "number" && value !== before) {
        const up = value > before;
        const good = better === null ? null : (better === "down") !== up;
        delta = h("span", { class: `delta ${good === null ? "" : good ? "good" : "bad"}` }, up ? "▲" : "▼");
      }
      return h("a", { class: "tile", href: link(pair.current), dataset: { figure: `${name}.${key}`, value: raw(value) } },
        h("div", { class: "tile-label" }, label),
        h("div", { class: "tile-value" }, format(value)),
        h("div", { class: "tile-note" }, delta, ` ${format(before)} before`),
        trendline(pair.current.spark[key]));
    });
  }

  async function load() {
    const now = Date.now();
    const r = await getJSON("/api/overview", { dayStart: localMidnight(now) });
    const l = r.live;
    live.replaceChildren(
      liveTile("ongoingCalls", "Ongoing calls", l.ongoingCalls, "#/calls?status=ongoing"),
      liveTile("eventsPerMinute", "Events / min", l.eventsPerMinute, "#/metrics?range=15m", `${(l.eventsPerSecond ?? 0).toFixed(1)} / s now`),
      liveTile("hangsLastHour", "Hangs, last hour", l.hangsLastHour, `#/calls?hasHang=true&since=${r.now - 3600e3}`),
      liveTile("errorsLastHour", "Errors, last hour", l.errorsLastHour, `#/calls?hasError=true&since=${r.now - 3600e3}`),
      liveTile("openAlerts", "Open alerts", l.openAlerts, "#/alerts?state=open"),
    );
    hour.replaceChildren(...windowTiles("hour", r.hour));
    today.replaceChildren(...windowTiles("today", r.today));
    stamp.textContent = `updated ${new Date(r.now).toLocaleTimeString()}`;
    stamp.dataset.now = String(r.now);
  }

  // Live: a stored event asks for a refresh; refreshes are at least REFRESH_MS apart, and
  // one runs every IDLE_REFRESH_MS anyway so that the last minute's figures decay.
  let timer = null;
  let last = 0;
  let loading = false;
  function refreshSoon(delay) {
    if (timer) return;
    const wait = Math.max(delay, REFRESH_MS - (Date.now() - last));
    timer = setTimeout(async () => {
      timer = null;
      if (loading) { refreshSoon(REFRESH_MS); return; }
      loading = true;
      last = Date.now();
      try { await load(); } catch (error) { console.warn("overview refresh failed:", error.message); } finally { loading = false; }
    }, wait);
  }
  openStream(null, () => refreshSoon(250));
  const idle = setInterval(() => refreshSoon(0), IDLE_REFRESH_MS);
  setDispose(() => { clearTimeout(timer); clearInterval(idle); });
  last = Date.now();
  await load();
}
