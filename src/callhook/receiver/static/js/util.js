// Small helpers shared by the views: DOM building, fetching, formatting, masking.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "style") el.style.cssText = value; // CSSOM: allowed by a strict style-src
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export class NotAvailable extends Error {}

// GET a JSON document; a 404 (an endpoint this server does not have) is NotAvailable.
export async function getJSON(path, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") query.set(k, v);
  }
  const qs = query.toString();
  const response = await fetch(qs ? `${path}?${qs}` : path, { headers: { accept: "application/json" } });
  if (response.status === 404) throw new NotAvailable(path);
  if (!response.ok) {
    let message = `${response.status}`;
    try { message = (await response.json()).error.message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response.json();
}

export function notAvailable(what) {
  return h("div", { class: "quiet not-available" }, `${what}: not available on this server`);
}

export function fmtTime(ms) {
  if (ms === null || ms === undefined) return "—";
  const d = new Date(ms);
  return d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function fmtClock(ms) {
  if (ms === null || ms === undefined) return "";
  return new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || typeof ms !== "number" || ms < 0) return "—";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

export function fmtMs(v) {
  if (v === null || v === undefined || typeof v !== "number") return "—";
  if (Math.abs(v) >= 10000) return `${(v / 1000).toFixed(1)} s`;
  return `${Math.round(v)} ms`;
}

export function fmtPct(v) {
  return v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`;
}

export function fmtUsd(v) {
  return typeof v === "number" ? `$${v.toFixed(4)}` : "—";
}

// Phone numbers are masked by default: every digit but the last four becomes a dot.
export function revealNumbers() {
  return localStorage.getItem("callhook.revealNumbers") === "1";
}

export function maskNumber(value) {
  if (typeof value !== "string" || value === "") return value || "—";
  if (revealNumbers() || value.startsWith("web-")) return value;
  const digits = value.replace(/\D/g, "").length;
  let seen = 0;
  return value.replace(/\d/g, (d) => (++seen > digits - 4 ? d : "•"));
}

export function parseTime(value) {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value) {
    const t = Date.parse(value);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

// The platforms a call can come from (call.platform; docs/vapi.md, docs/retell.md).
export const PLATFORMS = { interactly: "Interactly", vapi: "Vapi", retell: "Retell" };

export function badge(text, kind, title) {
  return h("span", { class: `badge ${kind || ""}`, title }, text);
}

export function statusBadge(status) {
  return badge(status || "unknown", `status-${status || "unknown"}`);
}
