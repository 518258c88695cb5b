// edge fleet page: every edge on the broker, from the daemon's read-only subscription, redrawn on each update.
// Plain JavaScript, no build step, no CDN.
"use strict";

const fleet = { setup: null };

function receive(message) {
  if (message.kind === "hello") return hello(message.setup.fleet || { mqtt: false });
  if (message.kind === "fleet") return render(message);
}

function hello(setup) {
  fleet.setup = setup;
  document.getElementById("mqtt-off").hidden = setup.mqtt;
  if (!setup.mqtt) {
    document.getElementById("config-path").textContent = setup.config || "edge.yaml";
    setCount("MQTT off", "not-understood");
    document.getElementById("broker").textContent = "";
    document.getElementById("edges").replaceChildren();
  } else {
    document.getElementById("broker").textContent = `broker ${setup.broker}`;
  }
}

function setCount(text, state) {
  const node = document.getElementById("fleet-count");
  node.textContent = text;
  node.dataset.state = state;
}

function render(message) {
  const online = message.edges.filter((e) => e.online).length;
  const broker = document.getElementById("broker");
  if (message.connected) {
    broker.textContent = `broker ${message.broker}, edges under ${message.filter}`;
    broker.classList.remove("bad");
    setCount(`${online} of ${message.edges.length} online`, "listening");
  } else {
    broker.textContent = `broker ${message.broker}: ${message.problem || "connecting…"} (the list may be old)`;
    broker.classList.add("bad");
    setCount("broker not reachable", "not-understood");
  }
  const self = fleet.setup && fleet.setup.base_topic;
  document.getElementById("edges").replaceChildren(...message.edges.map((e) => edgeCard(e, e.base_topic === self)));
}

function edgeCard(edge, isSelf) {
  const online = edge.online === true ? "online" : edge.online === false ? "offline" : "unknown";
  const card = el("section", { class: "card edge", id: `edge-${edge.base_topic}`, "data-online": online },
    el("div", { class: "edge-head" },
      el("h3", { class: "edge-name", text: edge.name }),
      el("span", { class: `badge ${online}`, text: online }),
      isSelf ? el("span", { class: "self", text: "this edge" }) : ""),
    el("p", { class: "edge-topic", text: edge.base_topic }));
  const command = edge.last_command;
  card.append(el("p", { class: "last-command" },
    el("span", { class: "label", text: "last command " }),
    el("span", { class: command ? "what" : "what none", text: command ? command.description : "none yet" }),
    command && command.at ? el("span", { class: "when", text: `  ${clock(command.at)}` }) : ""));
  const devices = el("ul", { class: "edge-devices" });
  for (const [name, state] of Object.entries(edge.devices || {})) {
    const on = Boolean(state && state.on);
    const level = on && state.level_percent != null && state.level_percent !== 100 ? ` ${state.level_percent} %` : "";
    devices.append(el("li", { class: "edge-device", "data-device": name, "data-on": String(on) },
      el("span", { class: "name", text: name.replaceAll("_", " ") }),
      el("span", { class: "state-text", text: on ? `on${level}` : "off" })));
  }
  card.append(devices);
  return card;
}

function clock(iso) {
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? iso : when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

edgeConnect("fleet", receive);
