// tripbit fleet panel: vanilla JS, no dependencies.
// Every value from the server is put into the page with textContent or
// setAttribute (never innerHTML), so nothing shown can inject markup.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let token = sessionStorage.getItem("tripbit-token") || "";
let lastData = 0;
let mode = "connecting";
let prevMonitorFailures = new Map();
const failingSince = new Map();
const cards = new Map();

(function takeTokenFromHash() {
  const m = location.hash.match(/^#token=(.+)$/);
  if (m) {
    token = decodeURIComponent(m[1]);
    sessionStorage.setItem("tripbit-token", token);
    history.replaceState(null, "", location.pathname + location.search);
  }
})();

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) e.setAttribute(k, String(v));
  }
  for (const k of kids) {
    if (k === null || k === undefined) continue;
    e.append(typeof k === "string" || typeof k === "number" ? document.createTextNode(String(k)) : k);
  }
  return e;
}

function ago(ms) {
  if (ms === null || ms === undefined) return "never";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

function when(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : "-";
}

function pct(r) {
  return (100 * (r || 0)).toFixed(1) + " %";
}

function banner(text) {
  const b = $("banner");
  if (text) {
    b.textContent = text;
    b.hidden = false;
  } else {
    b.hidden = true;
  }
}

function setLive(text, ok) {
  const l = $("live");
  l.textContent = text;
  l.className = "live " + (ok ? "ok" : "bad");
}

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

function chart(history) {
  const w = 400, h = 60;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const pts = history || [];
  const title = document.createElementNS(SVG, "title");
  title.textContent = "failure ratio (red, 0-100 %) and calls per second (blue) over the last " + pts.length + " samples";
  svg.append(title);
  if (pts.length < 2) return svg;
  const maxRate = Math.max(1, ...pts.map((p) => p[2] || 0));
  const x = (i) => (i * w) / (pts.length - 1);
  const line = (f, color) => {
    const pl = document.createElementNS(SVG, "polyline");
    pl.setAttribute("fill", "none");
    pl.setAttribute("stroke", color);
    pl.setAttribute("stroke-width", "2");
    pl.setAttribute("points", pts.map((p, i) => `${x(i).toFixed(1)},${(h - 2 - f(p) * (h - 4)).toFixed(1)}`).join(" "));
    svg.append(pl);
  };
  line((p) => (p[2] || 0) / maxRate, "#1565c0");
  line((p) => Math.min(1, p[1] || 0), "#b3261e");
  return svg;
}

function confirmThen(text, action) {
  $("confirm-text").textContent = text;
  $("confirm").hidden = false;
  $("confirm-yes").focus();
  $("confirm-yes").onclick = () => { $("confirm").hidden = true; action(); };
  $("confirm-no").onclick = () => { $("confirm").hidden = true; };
}

async function mutate(key, what) {
  const path = "/api/breakers/" + encodeURIComponent(key) + (what === "reset" ? "/reset" : "/force");
  const opts = { method: "POST", headers: headers({ "Content-Type": "application/json" }) };
  if (what !== "reset") opts.body = JSON.stringify({ state: what });
  try {
    const r = await fetch(path, opts);
    const body = await r.json().catch(() => ({}));
    if (r.ok) toast(what === "reset" ? `${key}: force cleared` : `${key}: forced ${what}`);
    else toast(`${key}: ${r.status} ${body.error || ""}`);
  } catch (e) {
    toast("request failed: " + e);
  }
}

function card(key) {
  let c = cards.get(key);
  if (c) return c;
  const state = el("span", { class: "state" });
  const forced = el("span", { class: "forced" });
  const body = el("div", { class: "body" });
  const btn = (cls, label, what, question) => {
    const b = el("button", { type: "button", class: cls }, label);
    b.addEventListener("click", () => confirmThen(question, () => mutate(key, what)));
    return b;
  };
  const actions = el("div", { class: "actions" },
    btn("force-healthy", "Force healthy", "healthy", `Force ${key} HEALTHY on every monitor? Calls will go through whatever the upstream does.`),
    btn("force-unhealthy", "Force unhealthy", "unhealthy", `Force ${key} UNHEALTHY on every monitor? Every call will fail fast.`),
    btn("reset", "Reset", "reset", `Clear the force on ${key}? The computed state decides again.`));
  const root = el("article", { class: "card", "data-key": key },
    el("h2", {}, key, " ", state, forced), actions, body);
  c = { root, state, forced, body, actions };
  cards.set(key, c);
  $("breakers").append(root);
  return c;
}

function renderBreaker(b) {
  const c = card(b.key);
  c.root.setAttribute("data-effective", b.effective);
  c.root.setAttribute("data-state", b.state);
  c.root.setAttribute("data-forced", b.forced || "none");
  c.state.textContent = b.state;
  c.state.setAttribute("data-state", b.state);
  c.forced.textContent = b.forced
    ? `forced ${b.forced} by ${b.forced_by || "?"} at ${when(b.forced_at)}` + (b.forced_applied === b.forced ? "" : " (reaching the monitors…)")
    : "";
  const w = b.window || {};
  const t = b.totals || {};
  const mons = el("table", { class: "monitors" },
    el("tr", {}, el("th", {}, "monitor"), el("th", {}, "host"), el("th", {}, "pid"), el("th", {}, "failures"), el("th", {}, "last seen")));
  for (const m of b.monitors || []) {
    const id = b.key + "/" + m.id;
    const f = (m.totals.failure || 0) + (m.totals.local || 0);
    const prev = prevMonitorFailures.get(id);
    if (prev !== undefined && f > prev) failingSince.set(id, Date.now());
    prevMonitorFailures.set(id, f);
    const seen = failingSince.get(id);
    const failingNow = seen !== undefined && Date.now() - seen < 10000;
    mons.append(el("tr", { class: failingNow ? "failing" : "", "data-monitor": m.id },
      el("td", {}, m.id), el("td", {}, m.host), el("td", {}, m.pid),
      el("td", {}, String(f) + (seen !== undefined ? ` (last failure seen ${ago(Date.now() - seen)} ago)` : "")),
      el("td", {}, ago(m.last_seen_age_ms) + " ago")));
  }
  const trans = el("ul", { class: "transitions" });
  for (const tr of (b.transitions || []).slice(0, 5)) {
    trans.append(el("li", {}, `${when(tr.at_ms)} ${tr.from} → ${tr.to}: ${tr.reason}`));
  }
  const wd = b.watchdog && b.watchdog.kind ? el("p", { class: "muted" }, `latest event: ${b.watchdog.kind} at ${when(b.watchdog.at_ms)} ${b.watchdog.detail}`) : null;
  c.body.replaceChildren(...[
    el("p", { class: "muted" },
      `window: ${w.calls} calls, ${w.failures} failures, ${w.slow} slow — failure ratio ${pct(w.failure_ratio)}; `,
      `${(b.call_rate || 0).toFixed(0)} calls/s; in this state for ${ago(b.time_in_state_ms)}; `,
      `last batch ${ago(b.last_batch_age_ms)} ago`),
    el("p", { class: "muted" }, `totals: ${t.success} ok, ${t.failure} failed, ${t.slow} slow, ${t.rejected} rejected · verdict v${b.version}: ${b.reason || "-"}`),
    chart(b.history),
    mons,
    trans.childElementCount ? trans : el("p", { class: "muted" }, "no transitions yet"),
    wd].filter((x) => x));
}

function renderProcessors(p) {
  const box = $("processors");
  const leader = p.leader
    ? el("span", { id: "leader" }, `leader ${p.leader.id} (${p.leader.host} pid ${p.leader.pid}), epoch ${p.leader.epoch}, lease ${(p.lease_remaining_ms / 1000).toFixed(1)} s left, renewed ${ago(p.leader.renewed_age_ms)} ago`)
    : el("strong", { id: "leader" }, "no leader holds the lease");
  const standbys = (p.processors || []).filter((q) => q.role !== "leader");
  const sb = standbys.length
    ? standbys.map((q) => `${q.id} (${q.host} pid ${q.pid}, ${q.alive ? "alive" : "silent"}, seen ${ago(q.age_ms)} ago)`).join("; ")
    : "none";
  const wd = (p.watchdog || []).map((w) => el("li", { class: /silent/.test(w.kind) ? "failing" : "" }, `${w.subject}: ${w.kind} at ${when(w.at_ms)} ${w.detail}`));
  box.replaceChildren(
    el("div", {}, leader),
    el("div", {}, "standby: " + sb),
    el("div", { class: "muted" }, `backlog ${p.backlog} · applied ${p.stats.applied}, duplicates ${p.stats.duplicates}, malformed ${p.stats.malformed}, fenced ${p.stats.fenced}`),
    wd.length ? el("div", {}, "watchdog (latest event per key and for the processor):", el("ul", { class: "watchdog" }, ...wd)) : el("div", { class: "muted" }, "watchdog: no events"));
}

function render(d) {
  lastData = Date.now();
  if (d.redis !== "up") {
    document.body.classList.add("stale");
    banner(`Redis is unreachable — the data below is NOT live` + (d.last_ok_ms ? ` (last good read at ${when(d.last_ok_ms)})` : "") + `. Cause: ${(d.error || "unknown").replace(/^Redis is unreachable: /, "")}`);
    return;
  }
  document.body.classList.remove("stale");
  banner(null);
  for (const b of d.breakers) renderBreaker(b);
  renderProcessors(d.processor);
}

async function readStream() {
  const r = await fetch("/api/stream", { headers: headers({ Accept: "text/event-stream" }) });
  if (r.status === 401) throw Object.assign(new Error("unauthorized"), { auth: true });
  if (!r.ok || !r.body) throw new Error("stream " + r.status);
  mode = "live (server-sent events)";
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("stream ended");
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const chunk = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = chunk.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n");
      if (data) render(JSON.parse(data));
    }
  }
}

async function pollOnce() {
  const r = await fetch("/api/overview", { headers: headers() });
  if (r.status === 401) throw Object.assign(new Error("unauthorized"), { auth: true });
  render(await r.json());
}

// `?poll=1` skips the stream (for proxies that buffer event streams, and
// to test the fallback).
const pollOnly = new URLSearchParams(location.search).get("poll") === "1";

async function main() {
  for (;;) {
    try {
      if (pollOnly) throw new Error("polling requested");
      await readStream();
    } catch (e) {
      if (e.auth) { needToken(); return; }
      // Fallback: poll for a while, then try the stream again.
      mode = pollOnly ? "polling (requested)" : "polling (stream unavailable)";
      const until = Date.now() + 10000;
      while (Date.now() < until) {
        try { await pollOnce(); } catch (e2) { if (e2.auth) { needToken(); return; } }
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }
}

function needToken() {
  setLive("token needed", false);
  banner("This panel needs a bearer token to show data.");
  $("login").hidden = false;
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  token = $("token").value.trim();
  sessionStorage.setItem("tripbit-token", token);
  $("login").hidden = true;
  banner(null);
  main();
});

setInterval(() => {
  if (mode === "connecting") return;
  if (Date.now() - lastData > 5000) {
    setLive("no data for " + ago(Date.now() - lastData), false);
    banner("The panel server is not answering — the data below is NOT live.");
  } else {
    setLive(mode, true);
  }
}, 1000);

main();
