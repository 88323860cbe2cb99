// Deliveries: the relay's forward targets (counts, success rate and latency over a range) and
// the dead letters, each with a Replay button (POST /api/deliveries/{id}/replay: needs the API
// token the dashboard was opened with).
import { lineChart } from "./charts.js";
import { NotAvailable, badge, fmtMs, fmtPct, fmtTime, getJSON, h, notAvailable } from "./util.js";

const MIN = 60e3, HOUR = 3600e3, DAY = 86400e3;
const RANGES = [["15m", 15 * MIN], ["1h", HOUR], ["6h", 6 * HOUR], ["24h", DAY], ["7d", 7 * DAY]];
const KINDS = { delivered: "ok", pending: "", retrying: "warn", dead: "error" };
const REFRESH_MS = 5000;

export function deliveryBadge(status, text = status) {
  return badge(text, `delivery ${KINDS[status] ?? ""}`);
}

export async function renderDeliveries({ view, params, setDispose }) {
  let range = RANGES.some(([k]) => k === params.get("range")) ? params.get("range") : "1h";
  const rangeButtons = h("div", { class: "segmented", id: "deliveries-range", role: "group" },
    RANGES.map(([k]) => h("button", { type: "button", dataset: { range: k }, onclick: () => { range = k; load(); } }, k)));
  const targets = h("div", { id: "delivery-targets", class: "targets" });
  const dead = h("div", { id: "dead-letters" });
  const pager = h("div", { class: "pager" });
  const notice = h("div", { id: "replay-notice", role: "status" });
  const cursors = [null];
  let page = 0;
  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Deliveries"),
      h("span", { class: "quiet" }, "Events relayed to your forward targets")),
    h("div", { class: "filters" }, rangeButtons),
    targets,
    h("h2", {}, "Dead letters"),
    h("p", { class: "quiet hint" }, "Deliveries given up on. Replay sends one again (it keeps its webhook-id)."),
    notice, dead, pager,
  );

  async function loadTargets() {
    for (const b of rangeButtons.children) b.classList.toggle("active", b.dataset.range === range);
    const span = RANGES.find(([k]) => k === range)[1];
    const until = Date.now();
    let r;
    try {
      r = await getJSON("/api/deliveries/targets", { since: until - span, until, bucket: Math.max(1, Math.round(span / 60 / 1000)) });
    } catch (error) {
      targets.replaceChildren(error instanceof NotAvailable ? notAvailable("Deliveries") : h("div", { class: "error-box" }, error.message));
      return;
    }
    if (!r.targets.length) {
      targets.replaceChildren(h("div", { class: "quiet empty-note" }, "No deliveries in this range and nothing waiting: configure [[forward]] targets (or serve --forward URL) to relay events."));
      return;
    }
    targets.replaceChildren(...r.targets.map((t) => targetCard(t, r.since, r.until)));
  }

  async function loadDead() {
    let r;
    try {
      r = await getJSON("/api/deliveries", { status: "dead", limit: 50, cursor: cursors[page] });
    } catch (error) {
      dead.replaceChildren(error instanceof NotAvailable ? notAvailable("Dead letters") : h("div", { class: "error-box" }, error.message));
      return;
    }
    cursors[page + 1] = r.nextCursor;
    dead.replaceChildren(h("table", { class: "calls", id: "dead-table" },
      h("thead", {}, h("tr", {}, ["Id", "Target", "Call", "Event", "Status", "Attempts", "Last error", "Given up", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, r.deliveries.length ? r.deliveries.map(deadRow) : h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No dead letters")))));
    pager.replaceChildren(
      h("button", { disabled: page === 0, onclick: () => { page -= 1; loadDead(); } }, "← Newer"),
      h("button", { disabled: !r.nextCursor, onclick: () => { page += 1; loadDead(); } }, "Older →"));
  }

  function deadRow(d) {
    const status = h("td", { class: "delivery-status" }, deliveryBadge(d.status));
    const attempts = h("td", { class: "num" }, d.attempts);
    const button = h("button", { type: "button", class: "replay", dataset: { id: d.id } }, "Replay");
    button.addEventListener("click", () => replay(d, button, status, attempts));
    return h("tr", { dataset: { delivery: d.id } },
      h("td", { class: "mono" }, d.id),
      h("td", { class: "mono", title: d.target }, d.name || d.target),
      h("td", {}, h("a", { href: `#/calls/${encodeURIComponent(d.callId)}`, class: "mono" }, d.callId)),
      h("td", {}, d.eventType, h("span", { class: "quiet" }, ` #${d.sequence}`)),
      status, attempts,
      h("td", { class: "last-error" }, lastError(d)),
      h("td", {}, fmtTime(d.finishedAt)),
      h("td", {}, button));
  }

  async function replay(d, button, status, attempts) {
    button.disabled = true;
    notice.replaceChildren();
    const response = await fetch(`/api/deliveries/${d.id}/replay`, { method: "POST", headers: { accept: "application/json" } });
    let body = null;
    try { body = await response.json(); } catch (e) { /* not JSON */ }
    if (!response.ok) {
      button.disabled = false;
      const message = body?.error?.message || `HTTP ${response.status}`;
      const hint = response.status === 401 || response.status === 403
        ? "Replay needs an API token: configure one on the server ([api] tokens or CALLHOOK_API_TOKEN) and open the dashboard once with ?token=<token>. "
        : "";
      notice.replaceChildren(h("div", { class: "error-box" }, `Delivery ${d.id} was not replayed. ${hint}${message}`));
      return;
    }
    status.replaceChildren(deliveryBadge(body.status));
    follow(d.id, status, attempts, Date.now() + 60e3);
  }

  // Poll a replayed delivery until it is finished (or a minute has passed).
  const polls = new Set();
  function follow(id, status, attempts, deadline) {
    const timer = setTimeout(async () => {
      polls.delete(timer);
      let d;
      try { d = await getJSON(`/api/deliveries/${id}`); } catch (e) { return; }
      status.replaceChildren(deliveryBadge(d.status));
      attempts.textContent = d.attempts;
      if ((d.status === "pending" || d.status === "retrying") && Date.now() < deadline) follow(id, status, attempts, deadline);
      else loadTargets();
    }, 1000);
    polls.add(timer);
  }

  async function load() {
    await Promise.all([loadTargets(), loadDead()]);
  }
  const refresh = setInterval(loadTargets, REFRESH_MS);
  setDispose(() => { clearInterval(refresh); for (const t of polls) clearTimeout(t); });
  await load();
}

function lastError(d) {
  return d.lastError || (d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : "—");
}

function tile(label, value, kind, note) {
  return h("div", { class: `tile ${kind || ""}`, dataset: { count: label.toLowerCase() } },
    h("div", { class: "tile-label" }, label), h("div", { class: "tile-value" }, value), note ? h("div", { class: "tile-note" }, note) : null);
}

function targetCard(t, since, until) {
  const points = (key) => t.points.map((p) => [p.start, p[key]]);
  const oldest = t.oldestPendingAt ? `oldest ${fmtTime(t.oldestPendingAt)}` : "none waiting";
  return h("section", { class: "card target", dataset: { target: t.target } },
    h("div", { class: "card-head" }, h("h3", {}, t.name || t.target,
      t.name && t.name !== t.target ? h("span", { class: "quiet mono target-url" }, ` ${t.target}`) : null),
      h("span", { class: "quiet" }, `${t.attempts} attempts in range · success ${fmtPct(t.successRate)} · p50 ${fmtMs(t.p50)} · p95 ${fmtMs(t.p95)}`)),
    h("div", { class: "tiles" },
      tile("Delivered", t.delivered, "", "in range"),
      tile("Pending", t.pending, "", "not attempted yet"),
      tile("Retrying", t.retrying, t.retrying ? "warn" : "", "after a failed attempt"),
      tile("Dead", t.dead, t.dead ? "bad" : "", "given up"),
      tile("Backlog", t.backlog, "", oldest)),
    h("div", { class: "charts" },
      lineChart({ series: [{ name: "success rate", color: "#059669", points: points("successRate") }], format: fmtPct, yMax: 1, x0: since, x1: until }),
      lineChart({ series: [{ name: "p50", color: "#2563eb", points: points("p50") }, { name: "p95", color: "#f59e0b", points: points("p95") }], format: fmtMs, x0: since, x1: until })));
}

// The call view's panel: the call's deliveries per target.
export function callDeliveries(r) {
  if (!r.targets.length) return h("div", { class: "quiet" }, "Not relayed to any target");
  return h("div", { id: "call-deliveries" }, r.targets.map((t) => h("div", { class: "call-target", dataset: { target: t.target } },
    h("div", { class: "mono", title: t.target }, t.name || t.target),
    h("div", { class: "badges" }, ["delivered", "pending", "retrying", "dead"].filter((s) => t[s]).map((s) => deliveryBadge(s, `${t[s]} ${s}`))),
    h("table", { class: "grid-table" },
      h("thead", {}, h("tr", {}, ["#", "Event", "Status", "Attempts", "Last error"].map((x) => h("th", {}, x)))),
      h("tbody", {}, t.items.map((d) => h("tr", { dataset: { delivery: d.id } },
        h("td", { class: "num" }, d.sequence), h("td", {}, d.eventType), h("td", {}, deliveryBadge(d.status)),
        h("td", { class: "num" }, d.attempts), h("td", { class: "last-error" }, lastError(d)))))))));
}
