// One call: the conversation as a chat with hang, error and status markers in line, each
// message's latency waterfall, the end-of-call report, sentiment and hang recovery.
import { openStream } from "./app.js";
import { sparkline } from "./charts.js";
import { callDeliveries } from "./deliveries.js";
import { offsetOf, recordingPlayer } from "./player.js";
import {
  NotAvailable, PLATFORMS, badge, fmtClock, fmtDuration, fmtMs, fmtTime, fmtUsd, getJSON, h, maskNumber,
  notAvailable, parseTime, statusBadge,
} from "./util.js";

const PAGE = 100;
const STAGES = [
  ["stt", "STT", (u) => u?.metrics?.stt?.relativeLatencyMs],
  ["eou", "End of utterance", (u) => u?.metrics?.interactlyEOU?.turnDetectionTimeMs],
  ["llm", "LLM", (u, a) => a?.metrics?.llm?.responseLatencyMs],
  ["tts", "TTS", (u, a) => a?.metrics?.tts?.generationTimeMs],
  ["player", "Player", (u, a) => a?.metrics?.interactlyPlayer?.waitTimeMs],
];

export async function renderCall({ view }, callId) {
  const enc = encodeURIComponent(callId);
  const header = h("div", { class: "call-head" });
  const chat = h("div", { class: "chat", id: "chat" });
  const more = h("div", { class: "more" });
  const side = h("aside", { class: "side" });
  const player = recordingPlayer(callId, chat);
  view.append(
    h("a", { href: "#/calls", class: "back" }, "← All calls"),
    header,
    player.section,
    h("div", { class: "call-grid" }, h("section", { class: "conversation" }, h("h2", {}, "Conversation"), chat, more), side),
  );

  const messages = new Map(); // messageId -> message
  const markers = []; // { kind, timestamp, data }
  let cursor = null;
  let complete = false;
  let detail = null;

  const found = await getJSON(`/api/calls/${enc}`).catch((error) => {
    if (!(error instanceof NotAvailable)) throw error;
    view.replaceChildren(h("a", { href: "#/calls", class: "back" }, "← All calls"),
      h("div", { class: "error-box" }, `No call ${callId} has been received (yet).`));
    return null;
  });
  if (found === null) return;
  const [call, hangs, errors] = await Promise.all([
    found,
    getJSON("/api/hangs", { callId, limit: 500 }),
    getJSON("/api/errors", { callId, limit: 500 }),
  ]);
  detail = call;
  for (const s of call.statusHistory) markers.push({ kind: "status", timestamp: s.timestamp, data: s });
  for (const x of hangs.hangs) markers.push({ kind: "hang", timestamp: x.timestamp, data: x });
  for (const x of errors.errors) markers.push({ kind: "error", timestamp: x.timestamp, data: x });

  async function loadPage() {
    const page = await getJSON(`/api/calls/${enc}/messages`, { limit: PAGE, cursor });
    for (const m of page.messages) messages.set(m.messageId, m);
    cursor = page.nextCursor;
    complete = !cursor;
  }
  await loadPage();

  function drawHeader() {
    const c = detail.call || {};
    const a = detail.assistant || {};
    const started = parseTime(c.startAt) ?? detail.firstTimestamp;
    header.replaceChildren(
      h("div", { class: "title-row" }, h("h1", { class: "mono" }, callId), statusBadge(detail.status),
        detail.hangCount ? badge(`${detail.hangCount} hang${detail.hangCount > 1 ? "s" : ""}`, "hang") : null,
        detail.errorCount ? badge(`${detail.errorCount} error${detail.errorCount > 1 ? "s" : ""}`, "error") : null),
      h("dl", { class: "facts" },
        fact("Assistant", a.name || detail.assistantId || "—"),
        fact("Provider / model", [detail.provider, detail.model].filter(Boolean).join(" / ") || "—"),
        fact("Type", [c.callType, c.direction].filter(Boolean).join(" · ") || "—"),
        fact("Platform", [PLATFORMS[c.platform] || c.platform || "Interactly", c.platformStatus].filter(Boolean).join(" · ")),
        fact("User", maskNumber(c.userNumber || (detail.call?.customer?.number))),
        fact("Started", fmtTime(started)),
        fact("Duration", fmtDuration(c.assistantCallDuration)),
        fact("Messages", detail.messageCount),
        fact("Ended by", c.callEndTriggerBy || "—")),
    );
  }

  function drawChat() {
    const items = [...messages.values()].map((m) => ({ kind: "message", timestamp: m.timestamp, data: m }));
    const lastTs = items.length ? Math.max(...items.map((i) => i.timestamp || 0)) : Infinity;
    for (const m of markers) if (complete || m.timestamp <= lastTs) items.push(m);
    items.sort((x, y) => (x.timestamp ?? 0) - (y.timestamp ?? 0) || order(x) - order(y));
    const byId = messages;
    let previousUser = null;
    const nodes = [];
    const startMs = parseTime(detail.call?.startAt) ?? detail.firstTimestamp;
    const at = (node, data) => {
      const offset = offsetOf(data, startMs);
      if (offset !== null) node.dataset.offsetMs = String(offset);
      return node;
    };
    for (const item of items) {
      if (item.kind === "message") {
        const m = item.data;
        if (m.role === "user") {
          for (const skipped of m.skippedAssistantMessages || []) nodes.push(at(interrupted(skipped), skipped));
          nodes.push(at(bubble(m, null), m));
          previousUser = m;
        } else {
          const welcome = String(m.messageId).startsWith("welcome");
          const answered = welcome ? null : (byId.get(String(m.messageId).replace(/-[^-]+-[^-]+$/, "").replace(/-response$/, "")) || previousUser);
          nodes.push(at(bubble(m, answered), m));
        }
      } else if (item.kind === "hang") nodes.push(at(hangMarker(item.data), item.data));
      else if (item.kind === "error") nodes.push(errorMarker(item.data));
      else nodes.push(h("div", { class: "marker status", dataset: { kind: "status" } }, "call ", h("b", {}, item.data.status), h("span", { class: "at" }, fmtClock(item.timestamp))));
    }
    chat.replaceChildren(...nodes);
    player.refresh();
    more.replaceChildren(complete ? "" : h("button", { id: "load-more", onclick: async () => { await loadPage(); drawChat(); } }, "Load more messages"));
  }

  async function drawSide() {
    side.replaceChildren(reportPanel(detail), h("section", { class: "panel", id: "sentiment" }, h("h3", {}, "Sentiment"), h("div", { class: "quiet" }, "loading…")),
      h("section", { class: "panel", id: "recovery" }, h("h3", {}, "Hang recovery"), h("div", { class: "quiet" }, "loading…")),
      h("section", { class: "panel", id: "deliveries" }, h("h3", {}, "Deliveries"), h("div", { class: "quiet" }, "loading…")));
    const platform = detail.call?.platform;
    if (platform && platform !== "interactly") {
      // What the platform sent that callhook's shape has no place for, as it was sent.
      const title = `From ${PLATFORMS[platform] || platform}`;
      const panel = h("section", { class: "panel", id: "platform-raw" }, h("h3", {}, title), h("div", { class: "quiet" }, "loading…"));
      side.append(panel);
      optional(panel, title, `/api/calls/${enc}/events`, { limit: 500 }, (page) => {
        const kept = (page.events || []).filter((e) => e.body?.platform?.event);
        if (!kept.length) return h("div", { class: "quiet" }, "Nothing beyond the mapped fields");
        return h("div", {}, kept.map((e) => h("details", { class: "raw" },
          h("summary", {}, `${e.body.platform.type} · ${fmtClock(e.timestamp)}`),
          h("pre", {}, JSON.stringify(e.body.platform.event, null, 2)))));
      });
    }
    optional(side.querySelector("#sentiment"), "Sentiment", `/api/calls/${enc}/sentiment`, {}, (s) => {
      const points = (s.trajectory || []).map((p, i) => [i, p.compound]);
      if (!points.length) return h("div", { class: "quiet" }, "No scored user messages yet");
      return h("div", {}, h("div", { class: "big" }, (s.average ?? 0).toFixed(2), h("span", { class: "quiet" }, " average compound (−1…1)")),
        sparkline(points, { min: -1, max: 1, width: 280, height: 60 }));
    });
    optional(side.querySelector("#deliveries"), "Deliveries", `/api/calls/${enc}/deliveries`, {}, callDeliveries);
    optional(side.querySelector("#recovery"), "Hang recovery", "/api/hangs/impact", { callId }, (r) => {
      if (!r.impacts?.length) return h("div", { class: "quiet" }, "No hangs in this call");
      return h("ul", { class: "impacts" }, r.impacts.map((i) => h("li", {},
        h("span", { class: "mono" }, i.pendingMessageId), " ",
        i.recovered ? badge(`recovered after ${fmtMs(i.waitedMs)}`, "ok") : badge("not recovered", "error"),
        i.repeated ? badge("user repeated", "warn") : null, i.abandoned ? badge("abandoned", "error") : null)));
    });
  }

  drawHeader();
  drawChat();
  drawSide();
  player.load().catch((error) => console.warn("recording:", error.message));

  openStream(callId, async (notice) => {
    if (notice.type === "reset" || notice.newMessages > notice.messages.length) {
      // Fell behind, or more new messages than a notice carries: reload what is shown.
      detail = await getJSON(`/api/calls/${enc}`);
      cursor = null; messages.clear();
      do { await loadPage(); } while (!complete && messages.size < 5 * PAGE);
      drawHeader(); drawChat(); drawSide();
      return;
    }
    if (notice.callId !== callId) return;
    if (complete) for (const m of notice.messages) if (!messages.has(m.messageId)) messages.set(m.messageId, m);
    if (notice.status && notice.status !== detail.status) {
      if (!detail.statusHistory.some((s) => s.status === notice.status)) {
        markers.push({ kind: "status", timestamp: notice.timestamp, data: { status: notice.status, timestamp: notice.timestamp } });
      }
    }
    if (notice.type === "hang" && notice.hang) {
      detail.hangCount += 1;
      markers.push({ kind: "hang", timestamp: notice.timestamp, data: { ...notice.hang, timestamp: notice.timestamp } });
    }
    if (notice.type === "error" && notice.error) {
      detail.errorCount += 1;
      markers.push({ kind: "error", timestamp: notice.timestamp, data: { ...notice.error, timestamp: notice.timestamp } });
    }
    detail.messageCount = Math.max(detail.messageCount, notice.messageCount || 0);
    if (notice.status) detail.status = notice.status;
    drawChat();
    if (notice.type === "end-of-call-report" || notice.type === "status-update") {
      detail = await getJSON(`/api/calls/${enc}`);
      drawSide();
      if (notice.type === "end-of-call-report") player.load().catch((error) => console.warn("recording:", error.message));
    }
    drawHeader();
  });
}

function order(item) {
  return { status: 0, message: 1, hang: 2, error: 3 }[item.kind];
}

function fact(label, value) {
  return h("div", {}, h("dt", {}, label), h("dd", {}, value));
}

function bubble(m, answered) {
  const welcome = String(m.messageId).startsWith("welcome");
  const role = m.role === "user" ? "user" : "assistant";
  const late = m.metrics?.hang?.waitedMs;
  return h("div", { class: `msg ${role}${welcome ? " welcome" : ""}`, dataset: { messageId: m.messageId, role } },
    h("div", { class: "meta" }, h("span", { class: "who" }, welcome ? "Welcome" : role === "user" ? "User" : "Assistant"), h("span", { class: "at" }, fmtClock(m.timestamp)),
      late ? badge(`late · ${fmtMs(late)}`, "hang") : null),
    h("div", { class: "text" }, m.text || h("i", { class: "quiet" }, "(no text)")),
    role === "assistant" && !welcome ? waterfall(answered, m) : null,
    role === "user" && m.metrics?.stt?.confidence !== undefined
      ? h("div", { class: "sub" }, `STT confidence ${(m.metrics.stt.confidence * 100).toFixed(0)} %`) : null,
  );
}

// The heard part and the unheard rest of a response the user barged in on.
function interrupted(skipped) {
  const text = skipped.text || "";
  const played = typeof skipped.playedText === "string" ? skipped.playedText : "";
  const rest = text.startsWith(played) ? text.slice(played.length) : text;
  return h("div", { class: "msg assistant interrupted", dataset: { messageId: skipped.messageId, kind: "interrupted" } },
    h("div", { class: "meta" }, h("span", { class: "who" }, "Assistant · interrupted"), h("span", { class: "at" }, fmtClock(skipped.timestamp)),
      typeof skipped.playedMs === "number" ? badge(`heard ${fmtMs(skipped.playedMs)}`, "warn") : null),
    h("div", { class: "text" }, h("span", { class: "heard" }, played), h("span", { class: "unheard", title: "generated, not heard" }, rest)),
  );
}

function hangMarker(x) {
  return h("div", { class: "marker hang", dataset: { kind: "hang" } },
    h("b", {}, "Assistant silent"), ` ${fmtMs(x.waitedMs)}`,
    x.stage ? h("span", { class: "pill" }, `stage: ${x.stage}`) : null,
    x.pendingMessageId ? h("span", { class: "sub" }, ` waiting to answer ${x.pendingMessageId}`) : null,
    h("span", { class: "at" }, fmtClock(x.timestamp)));
}

function errorMarker(x) {
  return h("div", { class: "marker error", dataset: { kind: "error" } },
    h("b", {}, x.type || "error"), " ", h("span", { class: "mono" }, x.code || ""),
    x.provider ? h("span", { class: "pill" }, x.provider) : null,
    x.message ? h("span", { class: "sub" }, ` ${x.message}`) : null,
    x.retryable ? badge("retryable", "warn") : null,
    h("span", { class: "at" }, fmtClock(x.timestamp)));
}

// A small waterfall: STT, end of utterance, LLM, TTS, player, one after the other.
function waterfall(user, assistant) {
  const parts = STAGES.map(([key, label, get]) => [key, label, get(user, assistant)])
    .filter(([, , v]) => typeof v === "number");
  if (!parts.length) return null;
  const total = parts.reduce((sum, [, , v]) => sum + Math.max(0, v), 0) || 1;
  let offset = 0;
  const rows = parts.map(([key, label, v]) => {
    const width = Math.max(0, v) / total * 100;
    const bar = h("div", { class: "wf-row", title: `${label}: ${fmtMs(v)}` },
      h("span", { class: "wf-label" }, label),
      h("span", { class: "wf-track" }, h("span", { class: `wf-bar ${key}`, style: `left:${offset}%;width:${Math.max(width, 0.8)}%` })),
      h("span", { class: "wf-value" }, fmtMs(v)));
    offset += width;
    return bar;
  });
  let at = 0;
  const strip = h("span", { class: "wf-strip" }, parts.map(([key, label, v]) => {
    const width = Math.max(0, v) / total * 100;
    const seg = h("span", { class: `wf-bar ${key}`, style: `left:${at}%;width:${width}%`, title: `${label}: ${fmtMs(v)}` });
    at += width;
    return seg;
  }));
  return h("details", { class: "waterfall" }, h("summary", {}, strip, h("span", { class: "wf-total" }, fmtMs(total))), ...rows);
}

function reportPanel(detail) {
  const analysis = detail.analysis || {};
  const cost = detail.cost || {};
  if (!detail.hasReport) return h("section", { class: "panel", id: "report" }, h("h3", {}, "End-of-call report"), h("div", { class: "quiet" }, "Not received yet"));
  const structured = analysis.structuredData && typeof analysis.structuredData === "object" ? analysis.structuredData : {};
  const costKeys = [["interactlyCost", "Platform"], ["phoneCost", "Phone"], ["llmVendorCost", "LLM"], ["ttsVendorCost", "TTS"], ["sttVendorCost", "STT"]];
  const total = typeof cost.totalCost === "number" ? cost.totalCost : costKeys.reduce((s, [k]) => s + (cost[k] || 0), 0);
  return h("section", { class: "panel", id: "report" },
    h("h3", {}, "End-of-call report"),
    analysis.successEvaluation ? h("div", { class: "eval" }, "Success: ", badge(String(analysis.successEvaluation), `eval-${String(analysis.successEvaluation).toLowerCase()}`)) : null,
    analysis.summary ? h("p", { class: "summary" }, analysis.summary) : null,
    Object.keys(structured).length ? h("table", { class: "kv" }, Object.entries(structured).map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, typeof v === "object" ? JSON.stringify(v) : String(v))))) : null,
    h("h4", {}, `Cost ${fmtUsd(total)}`),
    h("div", { class: "costbar" }, costKeys.filter(([k]) => cost[k] > 0).map(([k, label]) =>
      h("span", { class: `seg ${k}`, style: `width:${(cost[k] / (total || 1)) * 100}%`, title: `${label}: ${fmtUsd(cost[k])}` }))),
    h("table", { class: "kv" }, costKeys.filter(([k]) => typeof cost[k] === "number").map(([k, label]) => h("tr", {}, h("th", {}, h("span", { class: `dot ${k}` }), label), h("td", {}, fmtUsd(cost[k])))),
      typeof cost.callDuration === "number" ? h("tr", {}, h("th", {}, "Billed duration"), h("td", {}, `${cost.callDuration} s`)) : null),
  );
}

async function optional(panel, title, path, params, render) {
  try {
    const data = await getJSON(path, params);
    panel.replaceChildren(h("h3", {}, title), render(data));
  } catch (error) {
    panel.replaceChildren(h("h3", {}, title), error instanceof NotAvailable ? notAvailable(title) : h("div", { class: "quiet" }, error.message));
  }
}
