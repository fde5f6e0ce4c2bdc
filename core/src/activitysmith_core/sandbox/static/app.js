// Renders the sandbox's Live Activities and pushes as the iOS Lock Screen would, live over SSE.
"use strict";

const COLORS = ["lime", "green", "cyan", "blue", "purple", "magenta", "red", "orange", "yellow", "gray"];
const SYMBOLS = {  // SF Symbols have no web font: plain glyphs that render everywhere
  "checkmark": "✓", "checkmark.circle.fill": "✓", "xmark": "✕", "xmark.octagon.fill": "✕",
  "bolt.fill": "ϟ", "server.rack": "▤", "airplane": "✈", "cloud.fill": "☁", "flame.fill": "♨",
  "arrow.up.circle.fill": "↑", "timer": "◷", "clock": "◷", "bell.fill": "♪",
  "exclamationmark.triangle.fill": "⚠", "chart.bar.fill": "▥", "cpu": "▣", "wind": "≋",
  "shippingbox.fill": "▦", "gearshape.fill": "⚙", "play.fill": "▶", "calendar": "▦",
};
let snapshot = null;

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role" || k === "title" ||
             k === "href" || k === "src" || k === "alt" || k === "style" || k === "target") {
      node.setAttribute(k, v);
    } else node[k] = v;
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
};
const color = (name, fallback = "blue") => (COLORS.includes(name) ? name : fallback);

function dismissAt(act) {
  if (act.status !== "ended" || !act.ended) return null;
  const last = act.history[act.history.length - 1] || {};
  const delay = last.auto_dismiss_seconds ?? 180;
  return Date.parse(act.ended) + delay * 1000;
}

function segments(cs, ended) {
  const total = Math.max(1, cs.number_of_steps || 1);
  const done = Math.min(cs.current_step || 0, total);
  const stepColors = cs.step_colors || [];
  const accent = color(cs.color);
  const bar = el("div", { class: "segments", role: "img",
    "aria-label": `${done} of ${total} steps complete` });
  for (let i = 0; i < total; i++) {
    let c = null, cls = "segment";
    if (i < done) c = color(stepColors[i], accent);
    else if (i === done && !ended) { c = color(cs.step_color, accent); cls += " current"; }
    if (c) cls += ` c-${c}`;
    bar.append(el("div", { class: cls, "data-color": c || "pending", "data-index": i }));
  }
  return [bar, el("div", { class: "stepcount" }, `Step ${done} of ${total}`)];
}

function progress(cs) {
  let pct = cs.percentage;
  if (pct === undefined && cs.upper_limit) pct = (100 * (cs.value || 0)) / cs.upper_limit;
  pct = Math.max(0, Math.min(100, pct || 0));
  return [el("div", { class: "bar", role: "progressbar", "aria-valuenow": Math.round(pct),
    "aria-valuemin": 0, "aria-valuemax": 100 },
    el("div", { class: `c-${color(cs.color)}`, style: `width:${pct}%` })),
    el("div", { class: "stepcount" }, `${Math.round(pct)}%`)];
}

function metrics(cs) {
  return el("div", { class: "metrics" }, (cs.metrics || []).map((m) =>
    el("div", { class: "metric", "data-label": m.label },
      el("div", { class: "metric-label" }, m.label),
      el("div", { class: `metric-value t-${color(m.color, "gray") === "gray" && !m.color ? "" : color(m.color)}` },
        `${m.value}${m.unit ? " " + m.unit : ""}`))));
}

function timerText(act) {
  const cs = act.content_state;
  const last = [...act.history].reverse().find((h) => h.state && h.state.duration_seconds !== undefined);
  const since = Date.parse((last || act.history[0] || {}).time || act.started);
  const running = cs.is_running !== false && act.status === "active";
  const elapsed = running ? (Date.now() - since) / 1000 : 0;
  let secs = cs.counts_down === false ? elapsed : Math.max(0, (cs.duration_seconds || 0) - elapsed);
  secs = Math.floor(secs);
  const mm = String(Math.floor(secs / 60)).padStart(2, "0"), ss = String(secs % 60).padStart(2, "0");
  return `${mm}:${ss}${running ? "" : " ⏸"}`;
}

function actionButton(a) {
  if (!a) return null;
  return a.type === "open_url"
    ? el("a", { href: a.url, target: "_blank", class: "action" }, a.title)
    : el("span", { class: "action", title: `${a.method || "POST"} ${a.url}` }, a.title);
}

function renderActivity(act) {
  const cs = act.content_state || {};
  const ended = act.status === "ended";
  const icon = cs.icon ? el("div", { class: `icon t-${color(cs.icon.color, "gray")}`,
    title: cs.icon.symbol }, SYMBOLS[cs.icon.symbol] || "●") : null;
  const badge = cs.badge ? el("span", { class: `badge c-${color(cs.badge.color, "gray")}` },
    cs.badge.title) : null;
  let body = [];
  switch (cs.type) {
    case "segmented_progress": body = segments(cs, ended); break;
    case "progress": body = progress(cs); break;
    case "metrics": case "stats": body = [metrics(cs)]; break;
    case "value": body = [el("div", { class: `bigvalue t-${color(cs.color)}` }, cs.value)]; break;
    case "alert": body = [el("div", { class: "message" }, cs.message)]; break;
    case "timer": body = [el("div", { class: `timer t-${color(cs.color)}`, "data-timer": "1" },
      timerText(act))]; break;
  }
  const actions = [actionButton(act.action), actionButton(act.secondary_action)].filter(Boolean);
  return el("article", {
    class: `activity${ended ? " ended" : ""}`, "data-stream-key": act.stream_key || act.activity_id,
    "data-type": cs.type, "data-status": act.status, "aria-label": `${cs.title} Live Activity`,
  },
    el("div", { class: "top" }, icon,
      el("div", { class: "titles" }, el("div", { class: "title" }, cs.title),
        cs.subtitle ? el("div", { class: "subtitle" }, cs.subtitle) : null), badge),
    body, actions.length ? el("div", { class: "actions" }, actions) : null);
}

function renderPush(p) {
  const time = new Date(p.time).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const actions = (p.actions || []).map(actionButton);
  return el("article", { class: "push-card", "data-notification-id": p.notification_id,
    "aria-label": `Notification: ${p.title}` },
    el("div", { class: "app" }, el("span", {}, "ActivitySmith"), el("span", {}, p.replaced ? `${time} · replaced` : time)),
    el("div", { class: "title push-title" }, p.title),
    p.subtitle ? el("div", { class: "subtitle push-subtitle" }, p.subtitle) : null,
    p.message ? el("div", { class: "message push-message" }, p.message) : null,
    p.media ? el("img", { src: p.media, alt: "media attachment", class: "media" }) : null,
    p.redirection ? el("div", { class: "subtitle" }, `↗ ${p.redirection}`) : null,
    actions.length ? el("div", { class: "actions" }, actions) : null);
}

function renderHistory(acts) {
  const root = document.getElementById("history");
  const open = new Set([...root.querySelectorAll("details[open]")].map((d) => d.dataset.key));
  root.replaceChildren(...acts.map((act) => {
    const key = act.stream_key || act.activity_id;
    return el("details", { "data-key": key, open: open.has(key) },
      el("summary", {}, `${act.content_state.title} · ${key} · ${act.status} · ${act.history.length} updates`),
      el("table", {}, el("tr", {}, el("th", {}, "time"), el("th", {}, "operation"), el("th", {}, "state")),
        act.history.map((h) => el("tr", { class: "history-row" },
          el("td", {}, new Date(h.time).toLocaleTimeString()), el("td", {}, h.operation),
          el("td", {}, el("pre", {}, JSON.stringify(h.state)))))));
  }));
}

function render() {
  if (!snapshot) return;
  const now = Date.now();
  const visible = snapshot.activities.filter((a) => a.status === "active" ||
    (a.status === "ended" && (dismissAt(a) ?? 0) > now));
  visible.sort((a, b) => (a.status === b.status ? 0 : a.status === "active" ? -1 : 1));
  document.getElementById("activities").replaceChildren(...visible.map(renderActivity));
  document.getElementById("no-activities").hidden = visible.length > 0;
  const pushes = [...snapshot.pushes].reverse();
  document.getElementById("pushes").replaceChildren(...pushes.map(renderPush));
  document.getElementById("no-pushes").hidden = pushes.length > 0;
  renderHistory(snapshot.activities);
  const widgets = document.getElementById("widgets");
  widgets.replaceChildren(...Object.entries(snapshot.metrics).flatMap(([k, v]) =>
    [el("dt", {}, k), el("dd", {}, v.value)]),
    el("dt", {}, "app badge"), el("dd", {}, snapshot.badge ?? "–"));
  const active = snapshot.activities.filter((a) => a.status === "active").length;
  document.getElementById("summary").textContent =
    `${active} active · ${snapshot.activities.length} activities · ${snapshot.pushes.length} pushes · ${snapshot.requests} requests`;
}

function tick() {
  const d = new Date();
  document.getElementById("clock").textContent =
    `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  render();
}

function connect() {
  const source = new EventSource("/_sandbox/events");
  const dot = document.getElementById("conn");
  source.addEventListener("snapshot", (ev) => {
    snapshot = JSON.parse(ev.data);
    document.body.dataset.version = snapshot.version;
    dot.classList.add("live");
    render();
  });
  source.onerror = () => dot.classList.remove("live");
}

tick();
setInterval(tick, 1000);
connect();
