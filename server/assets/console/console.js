// The stompbox console: the broker's figures, connections and destinations, refreshed every
// second from the JSON API, with charts of the message rate and the connections drawn in SVG.
// Admins get buttons to close connections and to purge or delete queues; other users get none
// (and the API would refuse them anyway). With several virtual hosts, a picker chooses the host
// every call is about (`?host=ID`; the first host until one is picked).
"use strict";

const REFRESH_MS = 1000;
const HISTORY = 120; // samples the charts keep: two minutes
const HEADERS = { "X-Requested-With": "stompbox-console" };

const $ = (id) => document.getElementById(id);
let me = null;
let timer = null;
let previous = null;
let host = null; // the virtual host picked; null: the first
const history = { in: [], out: [], connections: [] };

// `path` about the picked virtual host.
function onHost(path) {
  return host === null ? path : `${path}${path.includes("?") ? "&" : "?"}host=${encodeURIComponent(host)}`;
}

// Fills the host picker from the broker's list (shown only when there are several).
function showHosts(broker) {
  const picker = $("host");
  picker.hidden = broker.virtual_hosts.length < 2;
  if (picker.options.length !== broker.virtual_hosts.length) {
    picker.replaceChildren(...broker.virtual_hosts.map((id) => new Option(id, id)));
  }
  picker.value = broker.host;
}

// One API call: the JSON answer, or an Error carrying the status and the API's reason.
async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    ...options,
    headers: { ...HEADERS, ...(options.headers || {}) },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error || response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

function setState(state) {
  document.body.dataset.state = state;
}

function showProblem(error) {
  $("problem").hidden = !error;
  $("problem").textContent = error ? `${error.message}` : "";
}

// Forgets the figures shown: the charts' history and the tables' rows.
function forgetFigures() {
  previous = null;
  Object.values(history).forEach((values) => values.splice(0));
  ["connections", "destinations", "closed"].forEach((id) => $(id).tBodies[0].replaceChildren());
}

function showLogin(message) {
  clearInterval(timer);
  me = null;
  forgetFigures();
  $("dashboard").hidden = true;
  $("denied").hidden = true;
  $("logout").hidden = true;
  $("user").textContent = "";
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  setState("login");
}

async function start() {
  try {
    me = await api("/api/whoami");
  } catch (error) {
    if (error.status === 401) {
      return showLogin();
    }
    setState("error");
    return showProblem(error);
  }
  $("login").hidden = true;
  $("user").textContent = me.user ? `${me.user}${me.admin ? " (admin)" : ""}` : "anonymous";
  $("logout").hidden = !me.user;
  if (!me.monitor && !me.user) {
    return showLogin("Log in to monitor this broker.");
  }
  if (!me.monitor) {
    $("denied").hidden = false;
    $("denied").textContent = `${me.user || "anonymous"} may not monitor this broker.`;
    return setState("denied");
  }
  document.body.classList.toggle("admin", me.admin);
  $("dashboard").hidden = false;
  setState("monitoring");
  await refresh();
  timer = setInterval(refresh, REFRESH_MS);
}

async function refresh() {
  try {
    const [broker, connections, destinations, closed] = await Promise.all([
      api(onHost("/api/broker")),
      api(onHost("/api/connections")),
      api(onHost("/api/destinations")),
      api(onHost("/api/connections?state=closed")),
    ]);
    showProblem(null);
    showHosts(broker);
    showBroker(broker);
    showConnections(connections.items);
    showDestinations(destinations.items);
    showClosed(closed.items.slice(-10).reverse());
  } catch (error) {
    if (error.status === 401) {
      return showLogin("Your session ended: log in again.");
    }
    showProblem(error);
  }
}

function showBroker(broker) {
  $("version").textContent = `v${broker.version}`;
  $("uptime").textContent = `up ${duration(broker.uptime_ms)}`;
  $("connections-now").textContent = number(broker.connections);
  $("bytes").textContent = `${bytes(broker.bytes_in)} / ${bytes(broker.bytes_out)}`;
  $("memory").textContent = `${bytes(broker.memory.held)} of ${bytes(broker.memory.high_watermark)}`;
  $("slow").textContent = number(broker.slow_consumers);
  $("cluster-card").hidden = !broker.cluster;
  if (broker.cluster) {
    const cluster = broker.cluster;
    $("cluster").textContent = `${cluster.node}: ${cluster.state}`;
    $("cluster").title = `topics: ${number(cluster.published)} sent, ${number(cluster.received)} received, ` +
      `${number(cluster.dropped)} dropped; queues: ${number(cluster.queues)} pulled, ` +
      `${number(cluster.queue_sent)} sent, ${number(cluster.queue_received)} received` +
      `${cluster.last_error ? `; last error: ${cluster.last_error}` : ""}`;
  }
  if (previous) {
    const seconds = Math.max((broker.uptime_ms - previous.uptime_ms) / 1000, 0.001);
    push(history.in, (broker.messages_in - previous.messages_in) / seconds);
    push(history.out, (broker.messages_out - previous.messages_out) / seconds);
    $("rate-in").textContent = number(Math.round(history.in.at(-1)));
    $("rate-out").textContent = number(Math.round(history.out.at(-1)));
  }
  push(history.connections, broker.connections);
  previous = broker;
  drawChart($("rate-chart"), [
    { values: history.in, className: "in" },
    { values: history.out, className: "out" },
  ]);
  drawChart($("connections-chart"), [{ values: history.connections, className: "connections" }]);
}

function push(values, value) {
  values.push(value);
  if (values.length > HISTORY) {
    values.shift();
  }
}

// Draws lines of up to HISTORY samples, newest on the right, scaled to the largest value.
function drawChart(svg, series) {
  const [width, height, left, top] = [600, 160, 44, 10];
  const largest = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i) => left + (i * (width - left - 4)) / (HISTORY - 1);
  const y = (v) => height - 16 - (v / largest) * (height - top - 22);
  const ns = "http://www.w3.org/2000/svg";
  const element = (name, attributes, text) => {
    const node = document.createElementNS(ns, name);
    Object.entries(attributes).forEach(([key, value]) => node.setAttribute(key, value));
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  };
  const nodes = [
    element("line", { x1: left, x2: width, y1: y(0), y2: y(0), class: "axis" }),
    element("line", { x1: left, x2: width, y1: y(largest), y2: y(largest), class: "grid" }),
    element("text", { x: left - 6, y: y(largest) + 4, class: "tick" }, number(Math.round(largest))),
    element("text", { x: left - 6, y: y(0) + 4, class: "tick" }, "0"),
  ];
  for (const { values, className } of series) {
    const offset = HISTORY - values.length;
    const points = values.map((v, i) => `${x(i + offset).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    nodes.push(element("polyline", { points, class: `line ${className}` }));
  }
  svg.replaceChildren(...nodes);
  svg.dataset.samples = Math.max(...series.map((s) => s.values.length));
}

// Updates a table in place, one row per key, so rows (and their buttons) keep their identity
// between refreshes.
function fillTable(table, rows, keyOf, cellsOf, actionsOf) {
  const body = table.tBodies[0];
  const existing = new Map([...body.rows].map((row) => [row.dataset.key, row]));
  const kept = new Set();
  for (const data of rows) {
    const key = String(keyOf(data));
    kept.add(key);
    const cells = cellsOf(data);
    let row = existing.get(key);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.key = key;
      cells.forEach(() => row.append(document.createElement("td")));
      if (actionsOf) {
        const actions = document.createElement("td");
        actions.className = "actions";
        actions.append(...actionsOf(data));
        row.append(actions);
      }
    }
    cells.forEach((value, i) => {
      if (row.cells[i].textContent !== value) {
        row.cells[i].textContent = value;
      }
    });
    body.append(row);
  }
  for (const [key, row] of existing) {
    if (!kept.has(key)) {
      row.remove();
    }
  }
}

function showConnections(connections) {
  fillTable(
    $("connections"),
    connections,
    (c) => c.id,
    (c) => [
      String(c.id),
      c.user || "anonymous",
      c.peer || "-",
      c.listener === c.kind ? c.kind : `${c.listener} (${c.kind})`,
      c.version || "connecting",
      ago(c.connected_since_ms),
      number(c.messages_in),
      number(c.messages_out),
      bytes(c.bytes_in),
      bytes(c.bytes_out),
      c.subscriptions.map((s) => s.destination).join(", "),
    ],
    me.admin && ((c) => [button("Close", "close-connection", () => act("DELETE", `/api/connections/${c.id}`))]),
  );
}

function showDestinations(destinations) {
  fillTable(
    $("destinations"),
    destinations,
    (d) => d.destination,
    (d) => [
      d.destination,
      d.kind,
      number(d.producers),
      number(d.consumers),
      number(d.enqueued),
      number(d.dequeued),
      number(d.depth),
      bytes(d.bytes),
      number(d.dropped),
    ],
    me.admin &&
      ((d) => {
        if (d.kind !== "queue") {
          return [];
        }
        const path = `/api/queues/${encodeURIComponent(d.destination.slice("/queue/".length))}`;
        return [
          button("Purge", "purge-queue", () => act("POST", `${path}/purge`)),
          button("Delete", "delete-queue", () => act("DELETE", path)),
        ];
      }),
  );
}

function showClosed(closed) {
  fillTable(
    $("closed"),
    closed,
    (c) => `${c.connection.id}`,
    (c) => [
      String(c.connection.id),
      c.connection.user || "anonymous",
      c.connection.peer || "-",
      c.connection.listener,
      ago(c.closed_at_ms),
      c.reason,
    ],
  );
}

function button(label, className, onClick) {
  const element = document.createElement("button");
  element.textContent = label;
  element.className = className;
  element.addEventListener("click", onClick);
  return element;
}

async function act(method, path) {
  try {
    await api(onHost(path), { method });
    showProblem(null);
  } catch (error) {
    showProblem(error);
  }
  await refresh();
}

function number(n) {
  return Number(n).toLocaleString("en");
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit += 1;
  }
  return `${unit ? n.toFixed(1) : n} ${units[unit]}`;
}

function duration(ms) {
  const s = Math.floor(ms / 1000);
  const [d, h, m] = [Math.floor(s / 86400), Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60)];
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

function ago(ms) {
  return `${duration(Math.max(0, Date.now() - ms))} ago`;
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: $("login-user").value, password: $("login-password").value }),
    });
    $("login-password").value = "";
    await start();
  } catch (error) {
    $("login-error").textContent = error.message;
  }
});

$("host").addEventListener("change", async () => {
  host = $("host").value;
  forgetFigures();
  await refresh();
});

$("logout").addEventListener("click", async () => {
  await api("/api/logout", { method: "POST" }).catch(() => {});
  document.body.classList.remove("admin");
  showLogin("Logged out.");
});

start();
