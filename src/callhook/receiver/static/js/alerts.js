// Alerts: the monitor's alert history, when this server has the monitor wired in.
import { openStream } from "./app.js";
import { NotAvailable, badge, fmtTime, getJSON, h, notAvailable } from "./util.js";

export async function renderAlerts({ view, params }) {
  const state = h("select", { id: "alert-state" }, ["", "open", "resolved"].map((s) => h("option", { value: s, selected: s === (params.get("state") || "") }, s || "any state")));
  const since = params.get("since") || "";
  const body = h("div");
  const pager = h("div", { class: "pager" });
  const cursors = [null];
  let page = 0;
  view.append(h("div", { class: "page-head" }, h("h1", {}, "Alerts")), h("div", { class: "filters" }, state), body, pager);
  state.addEventListener("change", () => { cursors.length = 1; page = 0; load(); });

  async function load() {
    let r;
    try {
      r = await getJSON("/api/alerts", { state: state.value, since, limit: 50, cursor: cursors[page] });
    } catch (error) {
      body.replaceChildren(error instanceof NotAvailable ? notAvailable("Alerts") : h("div", { class: "error-box" }, error.message));
      return;
    }
    cursors[page + 1] = r.nextCursor;
    body.replaceChildren(h("table", { class: "calls" },
      h("thead", {}, h("tr", {}, ["Severity", "Rule", "Scope", "State", "Summary", "Value", "Fired", "Resolved"].map((t) => h("th", {}, t)))),
      h("tbody", {}, r.alerts.length ? r.alerts.map((a) => h("tr", {},
        h("td", {}, badge(a.severity, a.severity === "critical" ? "error" : "warn")),
        h("td", { class: "mono" }, a.rule),
        h("td", {}, a.callId ? h("a", { href: `#/calls/${encodeURIComponent(a.callId)}`, class: "mono" }, a.scope) : a.scope),
        h("td", {}, badge(a.state, a.state === "resolved" ? "ok" : "error")),
        h("td", {}, a.summary),
        h("td", { class: "num" }, a.value === null || a.value === undefined ? "—" : `${+Number(a.value).toFixed(3)} / ${a.threshold ?? "—"}`),
        h("td", {}, fmtTime(a.firedAt)),
        h("td", {}, fmtTime(a.resolvedAt)))) : h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No alerts")))));
    pager.replaceChildren(
      h("button", { disabled: page === 0, onclick: () => { page -= 1; load(); } }, "← Newer"),
      h("button", { disabled: !r.nextCursor, onclick: () => { page += 1; load(); } }, "Older →"));
  }

  let timer = null;
  openStream(null, (notice) => {
    if (timer || page !== 0 || !["hang", "error", "end-of-call-report"].includes(notice.type)) return;
    timer = setTimeout(() => { timer = null; load(); }, 2000); // alerts follow events within a tick
  });
  await load();
}
