// Calls: the live list with filters, search and pagination; rows update in place.
import { openStream } from "./app.js";
import { PLATFORMS, badge, fmtDuration, fmtTime, getJSON, h, maskNumber, parseTime, statusBadge } from "./util.js";

const STATUSES = ["", "initiated", "queued", "ongoing", "forwarded", "finished", "failed"];


export async function renderCalls({ view, params }) {
  const state = {
    status: params.get("status") || "",
    assistantId: params.get("assistantId") || "",
    q: params.get("q") || "",
    hasHang: params.get("hasHang") || "",
    hasError: params.get("hasError") || "",
    platform: params.get("platform") || "",
    // A time range from a link (the overview's figures): calls whose first event is in it.
    since: params.get("since") || "",
    until: params.get("until") || "",
    cursors: [null], // cursor of each page seen, for Previous
    page: 0,
  };
  let filters = { assistants: [] };
  try { filters = await getJSON("/api/metrics/filters"); } catch (e) { /* keep empty */ }

  const search = h("input", { type: "search", placeholder: "Search call id, number, words said…", value: state.q, id: "call-search" });
  const status = h("select", { id: "filter-status" }, STATUSES.map((s) => h("option", { value: s, selected: s === state.status }, s || "any status")));
  const assistant = h("select", { id: "filter-assistant" },
    h("option", { value: "" }, "any assistant"),
    filters.assistants.map((a) => h("option", { value: a.id, selected: a.id === state.assistantId }, a.name || a.id)));
  const platform = h("select", { id: "filter-platform" },
    h("option", { value: "" }, "any platform"),
    Object.entries(PLATFORMS).map(([key, name]) => h("option", { value: key, selected: key === state.platform }, name)));
  const hang = h("label", { class: "check" }, h("input", { type: "checkbox", checked: state.hasHang === "true", id: "filter-hang" }), " with hangs");
  const error = h("label", { class: "check" }, h("input", { type: "checkbox", checked: state.hasError === "true", id: "filter-error" }), " with errors");
  const tbody = h("tbody");
  const pager = h("div", { class: "pager" });
  const summary = h("span", { class: "quiet" });
  const range = h("span", { class: "range-chip", id: "filter-range", hidden: !state.since && !state.until },
    `started ${state.since ? `from ${fmtTime(Number(state.since))}` : ""}${state.until ? ` until ${fmtTime(Number(state.until))}` : ""} `,
    h("button", { type: "button", title: "Clear the time range", onclick: () => { state.since = ""; state.until = ""; range.hidden = true; reload(); } }, "×"));

  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Calls"), summary),
    h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); reload(); } }, search, status, assistant, platform, hang, error, range,
      h("button", { type: "submit" }, "Apply")),
    h("table", { class: "calls" },
      h("thead", {}, h("tr", {}, ["Call", "Status", "Assistant", "Provider / model", "Started", "Duration", "Messages", ""].map((t) => h("th", {}, t)))),
      tbody),
    pager,
  );

  const rows = new Map(); // callId -> { tr, call }
  for (const el of [status, assistant, platform, hang.querySelector("input"), error.querySelector("input")]) {
    el.addEventListener("change", () => reload());
  }

  function query() {
    return {
      q: search.value.trim(), status: status.value, assistantId: assistant.value, platform: platform.value,
      hasHang: hang.querySelector("input").checked ? "true" : "",
      hasError: error.querySelector("input").checked ? "true" : "",
      since: state.since, until: state.until,
      limit: 25,
    };
  }

  function row(call) {
    const started = parseTime(call.startAt) ?? call.firstTimestamp;
    const duration = typeof call.durationMs === "number" && call.durationMs > 0
      ? call.durationMs : (call.lastTimestamp ?? 0) - (call.firstTimestamp ?? 0);
    const model = [call.provider, call.model].filter(Boolean).join(" / ") || "—";
    return h("tr", { dataset: { callId: call.callId }, class: "call-row", onclick: () => { location.hash = `#/calls/${encodeURIComponent(call.callId)}`; } },
      h("td", {}, h("a", { href: `#/calls/${encodeURIComponent(call.callId)}`, class: "mono" }, call.callId),
        h("div", { class: "sub" },
          h("span", { class: "platform", dataset: { platform: call.platform || "interactly" } }, PLATFORMS[call.platform] || call.platform || "Interactly"),
          " ", maskNumber(call.userNumber))),
      h("td", {}, statusBadge(call.status)),
      h("td", {}, call.assistantName || call.assistantId || "—"),
      h("td", {}, model),
      h("td", {}, fmtTime(started)),
      h("td", {}, fmtDuration(duration)),
      h("td", { class: "num", dataset: { role: "count" } }, call.messageCount),
      h("td", { class: "badges" },
        call.hangCount ? badge(`${call.hangCount} hang${call.hangCount > 1 ? "s" : ""}`, "hang") : null,
        call.errorCount ? badge(`${call.errorCount} error${call.errorCount > 1 ? "s" : ""}`, "error") : null,
        call.hasReport ? badge("report", "ok", "end-of-call report received") : null),
    );
  }

  async function load() {
    const page = await getJSON("/api/calls", { ...query(), cursor: state.cursors[state.page] });
    rows.clear();
    tbody.replaceChildren(...page.calls.map((call) => {
      const tr = row(call);
      rows.set(call.callId, { tr, call });
      return tr;
    }));
    if (!page.calls.length) tbody.append(h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No calls yet. Point a webhook at POST /webhook.")));
    state.cursors[state.page + 1] = page.nextCursor;
    summary.textContent = `page ${state.page + 1}`;
    pager.replaceChildren(
      h("button", { disabled: state.page === 0, onclick: () => { state.page -= 1; load(); } }, "← Newer"),
      h("button", { disabled: !page.nextCursor, onclick: () => { state.page += 1; load(); } }, "Older →"),
    );
  }

  function reload() {
    state.cursors = [null];
    state.page = 0;
    const q = new URLSearchParams(Object.entries(query()).filter(([k, v]) => v && k !== "limit"));
    history.replaceState(null, "", `#/calls${q.toString() ? `?${q}` : ""}`);
    load();
  }

  let pending = null;
  function reloadSoon() {
    if (pending) return;
    pending = setTimeout(() => { pending = null; load(); }, 250);
  }

  // Live: update known rows in place; a new call shows up on the first page.
  openStream(null, (notice) => {
    if (notice.type === "reset") { reloadSoon(); return; }
    const known = rows.get(notice.callId);
    if (!known) { if (state.page === 0) reloadSoon(); return; }
    const call = known.call;
    if (notice.status) call.status = notice.status;
    call.messageCount = Math.max(call.messageCount, notice.messageCount || 0);
    if (notice.type === "hang") call.hangCount += 1;
    if (notice.type === "error") call.errorCount += 1;
    if (notice.type === "end-of-call-report") call.hasReport = true;
    call.lastTimestamp = Math.max(call.lastTimestamp || 0, notice.timestamp || 0);
    const tr = row(call);
    known.tr.replaceWith(tr);
    known.tr = tr;
    tr.classList.add("flash");
  });

  await load();
}
