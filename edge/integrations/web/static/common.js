// What the live and fleet pages share: building elements, and the one WebSocket to edge (the token is asked
// for once and kept in this browser; a lost connection is retried). Plain JavaScript, no build step, no CDN.
"use strict";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

const edgeConnection = { page: "live", receive: () => {}, socket: null };

function edgeToken() {
  return localStorage.getItem("edge-token") || "";
}

function edgeConnect(page, receive) {
  edgeConnection.page = page;
  edgeConnection.receive = receive;
  openSocket();
}

async function openSocket() {
  const token = edgeToken();
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  let auth;
  try {
    auth = await fetch(`auth${query}`, { cache: "no-store" });
  } catch (err) {
    return retry("edge is not reachable");
  }
  if (auth.status === 401) {
    const body = await auth.json().catch(() => ({}));
    return askToken(body.error || "token required");
  }
  if (!auth.ok) return retry(`refused: ${auth.status}`);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const page = `${query ? "&" : "?"}page=${edgeConnection.page}`;
  const socket = new WebSocket(`${scheme}//${location.host}/ws${query}${page}`);
  socket.onopen = () => setConnection("connected", false);
  socket.onmessage = (message) => edgeConnection.receive(JSON.parse(message.data));
  socket.onclose = () => retry("connection lost, retrying…");
  edgeConnection.socket = socket;
}

function retry(why) {
  setConnection(why, true);
  edgeConnection.socket = null;
  setTimeout(openSocket, 1500);
}

function setConnection(text, bad) {
  const node = document.getElementById("connection");
  node.textContent = text;
  node.classList.toggle("bad", bad);
}

function askToken(reason) {
  setConnection(reason, true);
  document.getElementById("token-error").textContent = edgeToken() ? reason : "";
  const dialog = document.getElementById("token-dialog");
  if (!dialog.open) dialog.showModal();
}

function tokenDialog() {
  const input = el("input", { id: "token", type: "password", autocomplete: "current-password", "aria-label": "token" });
  input.required = true;
  const form = el("form", { id: "token-form", method: "dialog" },
    el("h2", { text: "This view needs its token" }),
    el("p", { text: "Ask the person who runs edge. It is kept in this browser." }),
    input, el("p", { id: "token-error", class: "error" }), el("button", { type: "submit", text: "Open" }));
  document.body.append(el("dialog", { id: "token-dialog", class: "token-dialog" }, form));
}

tokenDialog();
document.getElementById("token-form").addEventListener("submit", () => {
  const input = document.getElementById("token");
  localStorage.setItem("edge-token", input.value.trim());
  input.value = "";
  openSocket();
});
