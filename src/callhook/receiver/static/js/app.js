// The dashboard shell: hash routing, the live stream (server-sent events), the mask toggle.
import { renderOverview } from "./overview.js";
import { renderCalls } from "./calls.js";
import { renderCall } from "./call.js";
import { renderMetrics } from "./metrics.js";
import { renderAlerts } from "./alerts.js";
import { renderDeliveries } from "./deliveries.js";
import { h } from "./util.js";

const view = document.getElementById("view");
const liveState = document.getElementById("live-state");
let current = null; // { source: EventSource|null, dispose: fn|null }

// Open the stream for a view: each notice is one stored event (see receiver/_live.py).
export function openStream(callId, onNotice) {
  const url = callId ? `/api/stream?callId=${encodeURIComponent(callId)}` : "/api/stream";
  const source = new EventSource(url);
  source.onopen = () => { liveState.textContent = "live"; liveState.className = "live-state on"; };
  source.onerror = () => { liveState.textContent = "reconnecting"; liveState.className = "live-state off"; };
  source.onmessage = (event) => {
    try { onNotice(JSON.parse(event.data)); } catch (e) { console.error(e); }
  };
  if (current) current.source = source;
  return source;
}

function route() {
  if (current) {
    if (current.source) current.source.close();
    if (current.dispose) current.dispose();
  }
  current = { source: null, dispose: null };
  const hash = location.hash || "#/overview";
  const [path, query] = hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === (parts[0] || "overview"));
  }
  view.replaceChildren();
  const ctx = { view, params, setDispose: (fn) => { current.dispose = fn; } };
  let done;
  if (parts[0] === "calls" && parts[1]) done = renderCall(ctx, decodeURIComponent(parts.slice(1).join("/")));
  else if (parts[0] === "metrics") done = renderMetrics(ctx);
  else if (parts[0] === "alerts") done = renderAlerts(ctx);
  else if (parts[0] === "deliveries") done = renderDeliveries(ctx);
  else if (parts[0] === "calls") done = renderCalls(ctx);
  else done = renderOverview(ctx);
  Promise.resolve(done).catch((error) => {
    view.append(h("div", { class: "error-box" }, `Could not load this view: ${error.message}`));
  });
}

const reveal = document.getElementById("reveal-numbers");
reveal.checked = localStorage.getItem("callhook.revealNumbers") === "1";
reveal.addEventListener("change", () => {
  localStorage.setItem("callhook.revealNumbers", reveal.checked ? "1" : "0");
  route();
});

window.addEventListener("hashchange", route);
route();
