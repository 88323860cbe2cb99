// The call's recording (when [dashboard] recording_url is set): an audio player; clicking a
// message, a hang marker or an interruption seeks to its offset in the call, and the message
// being played is highlighted.
import { getJSON, h } from "./util.js";

// Where an item of the chat is in the recording (ms from the call's start): a message's
// metrics.timeline.totalElapsedTimeMs when it has one, else its timestamp minus the start.
export function offsetOf(item, startMs) {
  const elapsed = item?.metrics?.timeline?.totalElapsedTimeMs;
  if (typeof elapsed === "number") return Math.max(0, elapsed);
  const at = item?.timestamp;
  if (typeof at !== "number" || typeof startMs !== "number") return null;
  return Math.max(0, at - startMs);
}

// The player section for a call, empty (hidden) until the recording is known; `chat` is the
// element whose [data-offset-ms] children are seek targets.
export function recordingPlayer(callId, chat) {
  const audio = h("audio", { controls: true, preload: "auto", id: "recording-audio" });
  const note = h("span", { class: "quiet", id: "recording-note" });
  const section = h("section", { class: "player", id: "player", hidden: true },
    h("h3", {}, "Recording"), audio, note);
  let playing = null;

  function highlight() {
    const now = audio.currentTime * 1000;
    let found = null;
    for (const el of chat.querySelectorAll(".msg[data-offset-ms]")) {
      if (Number(el.dataset.offsetMs) <= now + 1) found = el; // 1 ms: float rounding
    }
    if (found === playing) return;
    if (playing) playing.classList.remove("playing");
    playing = found;
    if (found) found.classList.add("playing");
  }
  audio.addEventListener("timeupdate", highlight);
  audio.addEventListener("seeked", highlight);

  chat.addEventListener("click", (event) => {
    if (section.hidden || event.target.closest("details, a, button")) return;
    const target = event.target.closest("[data-offset-ms]");
    if (!target) return;
    audio.currentTime = Number(target.dataset.offsetMs) / 1000;
    highlight();
  });

  async function load() {
    const r = await getJSON(`/api/calls/${encodeURIComponent(callId)}/recording`);
    if (!r.url) { section.hidden = true; chat.classList.remove("seekable"); return; }
    if (audio.getAttribute("src") !== r.url) audio.setAttribute("src", r.url);
    note.textContent = " click a message, a hang or an interruption to play from there";
    section.hidden = false;
    chat.classList.add("seekable");
  }
  return { section, load, refresh: highlight };
}
