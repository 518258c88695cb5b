// edge live view: one WebSocket (common.js), messages rendered as they come. Plain JavaScript, no build step, no CDN.
"use strict";

const HISTORY = 20;
const OUTCOME_SHOW_MS = 4000;
const STAGES = ["wake", "asr", "intent", "action"];
const STATE_TEXT = {
  connecting: "connecting", listening: "listening", command: "hearing a command", understood: "understood",
  "not-understood": "not understood", timeout: "no command heard", error: "error", speaking: "speaking",
};

const $ = (id) => document.getElementById(id);
const view = {
  setup: null,
  pipelineState: "connecting",
  outcome: null, // {state, until}
  muted: false,
  current: null, // the command being followed: {text, typed, latency: {stage: ms}, result, bad}
  history: [],
  devices: {},
};
// Delays (ms) read by bench/web_view.py: wall time from the daemon's pipeline thread to this DOM update.
window.edgeDelays = [];
window.edgeMeterDelays = [];

function recordDelay(list, message) {
  if (message.replayed || !message.sent_unix_ms) return;
  list.push(Date.now() - message.sent_unix_ms);
  if (list.length > 5000) list.shift();
}

$("command-form").addEventListener("submit", (submit) => {
  submit.preventDefault();
  const input = $("command-text");
  const text = input.value.trim();
  if (!text) return;
  const socket = edgeConnection.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    return showReply("not connected", true);
  }
  socket.send(JSON.stringify({ kind: "command", text }));
  input.value = "";
});

function showReply(text, bad) {
  const node = $("command-reply");
  node.textContent = text;
  node.classList.toggle("bad", bad);
}

function receive(message) {
  switch (message.kind) {
    case "hello": return setup(message.setup);
    case "meter":
      meter(message);
      return recordDelay(window.edgeMeterDelays, message);
    case "status": return status(message.status);
    case "event": {
      onEvent(message.event, message.candidates || [], Boolean(message.replayed));
      return recordDelay(window.edgeDelays, message);
    }
    case "command-reply":
      return showReply(message.ok ? `sent: ${message.text}` : `refused: ${message.error}`, !message.ok);
  }
}

function setup(data) {
  view.setup = data;
  view.history = [];
  view.current = null;
  $("wake-phrase").textContent = data.wake_phrase;
  $("board-name").textContent = `${data.board.description}`;
  drawHeader(data);
  renderHistory();
}

function drawHeader(data) {
  const header = $("header");
  header.replaceChildren();
  const devices = Object.fromEntries(data.devices.map((d) => [d.pin, d]));
  const pins = data.header.pins;
  for (let i = 0; i + 1 < pins.length; i += 2) {
    header.append(side(pins[i], devices, "left"), pinDot(pins[i]), pinDot(pins[i + 1]), side(pins[i + 1], devices, "right"));
  }
}

function pinDot(pin) {
  const classes = ["pin", pin.kind];
  if (pin.used_by) classes.push("used");
  if (pin.reserved) classes.push("reserved");
  const title = `${pin.name} (pin ${pin.number})${pin.pwm ? ", PWM" : ""}${pin.reserved ? ", " + pin.reserved : ""}`;
  return el("div", { class: classes.join(" "), title, text: String(pin.number) });
}

function side(pin, devices, where) {
  const cell = el("div", { class: `side ${where}` });
  const device = devices[pin.name];
  if (device) {
    const icon = el("span", { class: device.kind === "fan" ? "fan" : "lamp" });
    const card = el("span", { class: "device", id: `device-${device.name}`, "data-on": "false" },
      icon, el("span", { class: "name", text: device.name.replaceAll("_", " ") }),
      el("span", { class: "state-text", text: "off" }));
    const arrow = el("span", { text: where === "left" ? ` ${pin.name} →` : `← ${pin.name} ` });
    if (where === "left") cell.append(card, arrow); else cell.append(arrow, card);
    cell.classList.add("wired");
    cell.style.color = "var(--text)";
  } else {
    cell.textContent = pin.used_by || pin.name;
  }
  return cell;
}

function setDevice(name, state) {
  const card = $(`device-${name}`);
  if (!card || !state) return;
  view.devices[name] = state;
  const device = view.setup && view.setup.devices.find((d) => d.name === name);
  const on = Boolean(state.on);
  card.dataset.on = String(on);
  card.dataset.level = String(state.level_percent);
  let text = on ? "on" : "off";
  if (on && device && device.pwm) text = `on ${state.level_percent} %`;
  card.querySelector(".state-text").textContent = text;
  const level = on ? Math.max(state.level_percent, 8) / 100 : 0;
  const icon = card.querySelector(".lamp, .fan");
  if (icon.classList.contains("lamp")) {
    icon.style.background = on ? `rgba(255, 212, 0, ${level})` : "";
    icon.style.boxShadow = on ? `0 0 ${Math.round(level * 18)}px rgba(255, 212, 0, ${level})` : "";
  } else {
    icon.style.animationDuration = on ? `${(0.3 / level).toFixed(2)}s` : "";
  }
}

function meter(m) {
  view.pipelineState = m.state;
  view.muted = m.muted;
  const levelPercent = m.level_db == null ? 0 : Math.min(100, Math.max(0, (m.level_db + 90) / 90 * 100));
  $("level-bar").style.width = `${levelPercent}%`;
  $("level-text").textContent = m.level_db == null ? "n/a" : `${Math.round(m.level_db)} dB`;
  const wakeBar = $("wake-bar");
  const mark = $("wake-threshold");
  if (m.wake_score == null) {
    wakeBar.style.width = "0";
    $("wake-text").textContent = "n/a";
  } else {
    wakeBar.style.width = `${Math.min(100, m.wake_score * 100)}%`;
    wakeBar.classList.toggle("over", m.wake_threshold != null && m.wake_score >= m.wake_threshold);
    $("wake-text").textContent = m.wake_threshold == null
      ? m.wake_score.toFixed(2) : `${m.wake_score.toFixed(2)} / ${m.wake_threshold.toFixed(2)}`;
  }
  mark.hidden = m.wake_threshold == null;
  if (m.wake_threshold != null) mark.style.left = `calc(${m.wake_threshold * 100}% - 2px)`;
  $("partial").textContent = m.partial || "";
  renderState();
}

function renderState() {
  let state = view.pipelineState;
  if (view.outcome && Date.now() < view.outcome.until && state !== "command") state = view.outcome.state;
  else if (view.muted) state = "speaking";
  const node = $("state");
  node.dataset.state = state;
  node.textContent = STATE_TEXT[state] || state;
}

function showOutcome(state, replayed) {
  if (!replayed) view.outcome = { state, until: Date.now() + OUTCOME_SHOW_MS };
  renderState();
}

function startCommand(text, typed) {
  view.current = { text, typed, latency: {}, result: "", bad: false };
  return view.current;
}

function onEvent(e, candidates, replayed) {
  let cmd = view.current;
  switch (e.type) {
    case "wake":
      view.heard = "";
      cmd = startCommand("", false);
      cmd.latency.wake = e.latency_ms;
      setTranscript("…", false);
      setIntent(null, [], {});
      setAction("", false);
      if (!replayed) { view.pipelineState = "command"; renderState(); }
      return;
    case "transcript":
      if (!cmd || cmd.done) cmd = startCommand(e.text, false);
      cmd.text = e.text;
      view.heard = e.text;
      cmd.latency.asr = e.latency_ms;
      setTranscript(e.text || "(nothing recognised)", false);
      return;
    case "intent":
      // A sentence of several commands gives one intent per part: each part gets its own row.
      if (!cmd || cmd.done || cmd.text !== e.text) cmd = startCommand(e.text, !spokenPart(e.text));
      if (cmd.typed) setTranscript(e.text, true);
      cmd.latency.intent = e.latency_ms;
      cmd.intent = e.name;
      setIntent(e, candidates, e.slots);
      return;
    case "not-understood":
      if (!cmd || cmd.done || cmd.text !== e.text) cmd = startCommand(e.text, !spokenPart(e.text));
      if (cmd.typed) setTranscript(e.text, true);
      setIntent(null, candidates, {}, e.reason);
      return finish(cmd, `not understood: ${e.reason}`, true, "not-understood", replayed);
    case "action":
      if (!cmd || cmd.done) cmd = startCommand(e.intent, true);
      cmd.latency.action = e.latency_ms;
      if (e.device) setDevice(e.device, e.state);
      else for (const [name, state] of Object.entries(e.state || {})) setDevice(name, state);
      return finish(cmd, e.description, false, "understood", replayed);
    case "timeout":
      if (!cmd || cmd.done) cmd = startCommand("", false);
      return finish(cmd, e.reason, true, "timeout", replayed);
    case "error":
      if (!cmd || cmd.done) cmd = startCommand("", false);
      return finish(cmd, `${e.stage} failed: ${e.message}`, true, "error", replayed);
  }
}

function spokenPart(text) {
  return Boolean(view.heard && text && view.heard.includes(text));
}

function finish(cmd, text, bad, state, replayed) {
  cmd.done = true;
  cmd.result = text;
  cmd.bad = bad;
  setAction(text, bad);
  view.history.unshift(cmd);
  view.history.length = Math.min(view.history.length, HISTORY);
  renderLatency(cmd);
  renderHistory();
  showOutcome(state, replayed);
}

function setTranscript(text, typed) {
  const node = $("transcript");
  node.textContent = text;
  node.classList.toggle("typed", typed);
}

function setIntent(e, candidates, slots, reason) {
  const node = $("intent");
  if (e) {
    node.textContent = `${e.name}  ${Math.round(e.confidence * 100)} %`;
    node.classList.remove("none");
  } else if (reason) {
    node.textContent = "not understood";
    node.classList.add("none");
  } else {
    node.textContent = "–";
    node.classList.remove("none");
  }
  $("candidates").replaceChildren(...candidates.map((c) => el("div", { class: "cand" },
    el("span", { class: "name", text: c.intent }),
    bar(c.confidence * 100),
    el("span", { class: "value", text: `${Math.round(c.confidence * 100)} %` }))));
  $("slots").replaceChildren(...Object.entries(slots || {}).map(([k, v]) =>
    el("span", { class: "chip", text: `${k}: ${Array.isArray(v) ? v.join(" / ") : v}` })));
}

function setAction(text, bad) {
  const node = $("action");
  node.textContent = text || "–";
  node.classList.toggle("bad", bad);
}

function bar(percent) {
  const fill = el("div", { class: "fill" });
  fill.style.width = `${Math.max(0, Math.min(100, percent))}%`;
  return el("div", { class: "bar" }, fill);
}

function renderLatency(cmd) {
  const values = STAGES.map((s) => cmd.latency[s]);
  const top = Math.max(1, ...values.filter((v) => v != null));
  $("last-latency").replaceChildren(...STAGES.map((stage, i) => el("div", { class: "stage" },
    el("span", { text: stage }),
    bar(values[i] == null ? 0 : values[i] / top * 100),
    el("span", { class: "ms value", text: values[i] == null ? "–" : `${values[i].toFixed(1)} ms` }))));
}

function renderHistory() {
  $("history").replaceChildren(...view.history.map((cmd) => {
    const total = STAGES.reduce((sum, s) => sum + (cmd.latency[s] || 0), 0);
    return el("li", {},
      el("span", { class: "what", text: `${cmd.typed ? "⌨ " : ""}${cmd.text || "(silence)"} → ` }),
      el("span", { class: cmd.bad ? "bad" : "", text: cmd.result }),
      el("span", { class: "ms", text: `  ${total.toFixed(0)} ms` }));
  }));
}

function status(s) {
  for (const [name, state] of Object.entries(s.devices || {})) setDevice(name, state);
  const rows = { ...s.counters, audio_drops: s.audio.drops, audio_restarts: s.audio.restarts };
  for (const [stage, p] of Object.entries(s.latency_ms || {})) rows[`${stage} p50 ms`] = p.p50;
  rows.uptime_s = Math.round(s.uptime_s);
  $("counters").replaceChildren(...Object.entries(rows).map(([k, v]) =>
    el("div", {}, el("dt", { text: k.replaceAll("_", " ") }), el("dd", { text: String(v) }))));
}

setInterval(renderState, 500);
edgeConnect("live", receive);
