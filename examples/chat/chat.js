// The stompbox chat: joins /topic/chat.<room>.demo over STOMP on WebSocket (@stomp/stompjs),
// shows each message with its sender and time, and sends what the user types. A plain message
// fades out after 5 seconds; one whose body starts with "sticky:" stays pinned.
//
// The broker is this page's own origin at /stomp unless ?url= (or the Broker field) names
// another WebSocket URL, e.g. a `ws` listener's. ?nick= and ?room= fill the form in.
"use strict";

const FADE_AFTER_MS = 5000;
const FADE_MS = 1000;
const STICKY = "sticky:";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let client = null;

function defaultUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/stomp`;
}

function setState(state, text) {
  document.body.dataset.state = state;
  $("status").textContent = text;
}

function topic(room) {
  return `/topic/chat.${room}.demo`;
}

function join(event) {
  event.preventDefault();
  const nick = $("nick").value.trim();
  const room = $("room").value.trim();
  const url = $("url").value.trim() || defaultUrl();
  const connectHeaders = {};
  if ($("login").value) {
    connectHeaders.login = $("login").value;
    connectHeaders.passcode = $("passcode").value;
  }
  setState("connecting", `Connecting to ${url}…`);
  let refused = null;
  client = new StompJs.Client({
    brokerURL: url,
    connectHeaders,
    reconnectDelay: 0, // An operator who closes the connection means it: no reconnecting.
    onConnect: () => {
      $("join").hidden = true;
      $("room-view").hidden = false;
      $("room-title").textContent = `#${room}`;
      client.subscribe(topic(room), show);
      setState("connected", `Connected to ${url} as ${nick}.`);
      $("text").focus();
    },
    onStompError: (frame) => {
      refused = frame.headers.message || "the broker refused";
      const code = frame.headers.code;
      // Refused without credentials: the broker wants a login.
      if (code === "authentication-failed" || (code === "access-denied" && !connectHeaders.login)) {
        $("credentials").hidden = false;
        refused = "this broker asks for a login: enter it and join again";
      }
    },
    onWebSocketClose: () => {
      const why = refused || "the connection closed";
      setState(refused ? "error" : "disconnected", `Disconnected: ${why}.`);
      $("join").hidden = false;
      $("say").querySelector("button").disabled = true;
      client = null;
    },
  });
  $("say").querySelector("button").disabled = false;
  client.activate();
}

// Shows one message: sender and time, then the text; pinned if sticky, else faded out.
function show(message) {
  const body = message.body;
  const sticky = body.startsWith(STICKY);
  const item = document.createElement("li");
  item.className = sticky ? "message sticky" : "message";
  const sender = document.createElement("span");
  sender.className = "sender";
  sender.textContent = message.headers.nick || message.headers.sender || "anonymous";
  const time = document.createElement("time");
  const now = new Date();
  time.dateTime = now.toISOString();
  time.textContent = now.toLocaleTimeString();
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = sticky ? body.slice(STICKY.length).trim() : body;
  item.append(sender, time, text);
  if (sticky) {
    $("pinned").append(item);
  } else {
    $("messages").append(item);
    setTimeout(() => item.classList.add("fading"), FADE_AFTER_MS);
    setTimeout(() => item.remove(), FADE_AFTER_MS + FADE_MS);
  }
}

function say(event) {
  event.preventDefault();
  const text = $("text").value;
  if (!client || !text.trim()) {
    return;
  }
  const room = $("room").value.trim();
  client.publish({ destination: topic(room), body: text, headers: { nick: $("nick").value.trim() } });
  $("text").value = "";
}

function leave() {
  if (client) {
    client.deactivate();
  }
  $("room-view").hidden = true;
}

$("url").placeholder = defaultUrl();
$("url").value = params.get("url") || "";
$("nick").value = params.get("nick") || "";
$("room").value = params.get("room") || $("room").value;
$("join").addEventListener("submit", join);
$("say").addEventListener("submit", say);
$("leave").addEventListener("click", leave);
