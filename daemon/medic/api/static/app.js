// Medic audit page: reads the JSON API, renders with textContent only (never HTML from
// data), refreshes every 10 seconds. The token, when the agent needs one, lives in
// sessionStorage for this tab only and goes out as a bearer header.
"use strict";

const TOKEN_KEY = "medic.token";
const REFRESH_MS = 10000;
const KINDS = [
  "action.", "action.failed", "action.started", "action.succeeded", "action.suppressed",
  "action.timed_out", "action.would_run", "incident.", "incident.escalated",
  "incident.fired", "notification.", "probe.", "verify.", "verify.healed",
  "verify.not_healed",
];
const $ = (id) => document.getElementById(id);
let selected = null; // incident id whose story is shown, or null for recent events
let busy = false;
let again = false; // a refresh was asked for while one was running

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

async function api(path) {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = "Bearer " + token();
  const response = await fetch(path, { headers });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const err = (body && body.error) || { message: response.statusText || "request failed" };
    const error = new Error(err.message + (err.hint ? " (" + err.hint + ")" : ""));
    error.status = response.status;
    error.code = err.code;
    throw error;
  }
  return body;
}

function showError(error) {
  const box = $("error");
  if (!error) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.hidden = false;
  box.textContent = error.status === 401
    ? "This agent needs its API token: enter it above. " + error.message
    : error.message;
  if (error.status === 401) $("token").focus();
}

function cell(row, text, className) {
  const td = document.createElement("td");
  if (text instanceof Node) td.appendChild(text);
  else td.textContent = text === null || text === undefined || text === "" ? "–" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function timeNode(value) {
  const t = document.createElement("time");
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (value === null || value === undefined || isNaN(date)) {
    t.textContent = value ? String(value) : "–";
    return t;
  }
  t.dateTime = date.toISOString();
  t.textContent = date.toISOString().replace("T", " ").slice(0, 19);
  return t;
}

function codeNode(value) {
  const code = document.createElement("code");
  if (value === null || value === undefined) return document.createTextNode("–");
  if (typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return document.createTextNode("–");
    code.textContent = keys.map((k) => k + "=" + JSON.stringify(value[k])).join("  ");
  } else {
    code.textContent = JSON.stringify(value);
  }
  return code;
}

function kindClass(kind) {
  if (/failed|timed_out|interrupted|not_healed|escalated|opened/.test(kind)) return "kind-bad";
  if (/suppressed|would_run|fired/.test(kind)) return "kind-warn";
  if (/succeeded|healed|cleared|closed|sent/.test(kind)) return "kind-good";
  return "";
}

function kindFilter() {
  return $("filter-kind").value.split(",").map((k) => k.trim()).filter(Boolean);
}

function kindMatches(kind, filters) {
  if (filters.length === 0) return true;
  return filters.some((f) => {
    if (f.endsWith(".")) return kind.startsWith(f);
    if (!f.includes(".")) return kind.startsWith(f + ".");
    return kind === f;
  });
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of [].concat(value)) if (v !== "" && v !== null && v !== false) search.append(key, v);
  }
  const text = search.toString();
  return text ? "?" + text : "";
}

function duration(seconds) {
  let left = Math.round(seconds);
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
    if (left >= size || (unit === "s" && parts.length === 0)) {
      parts.push(Math.floor(left / size) + unit);
      left %= size;
    }
  }
  return parts.slice(0, 2).join(" ");
}

async function loadHealth() {
  const health = await api("/health");
  $("host").textContent = health.host;
  $("version").textContent = health.version;
  $("uptime").textContent = duration(health.uptime_seconds);
  $("policy-count").textContent = String(health.policies);
  document.title = "Medic audit log – " + health.host;
}

async function loadPolicyNames() {
  const body = await api("/api/v1/policies");
  const list = $("policy-names");
  list.replaceChildren(...body.policies.map((p) => new Option(p.name)));
}

async function loadIncidents() {
  const policy = $("filter-policy").value.trim();
  const body = await api("/api/v1/incidents" + query({
    policy, open: $("filter-open").checked ? "true" : "", limit: 100,
  }));
  const rows = body.incidents.map((inc) => {
    const id = inc.id || inc.incident;
    const row = document.createElement("tr");
    row.dataset.incident = id;
    row.dataset.testid = "incident-row";
    if (id === selected) row.classList.add("selected");
    cell(row, timeNode(inc.opened));
    const status = inc.escalated && inc.status === "open" ? "open, escalated" : inc.status;
    cell(row, status, "status-" + String(inc.status));
    cell(row, inc.policy);
    cell(row, inc.target);
    const link = document.createElement("a");
    link.href = "#incident=" + encodeURIComponent(id);
    link.textContent = id;
    cell(row, link);
    cell(row, timeNode(inc.last_event));
    row.addEventListener("click", (event) => {
      if (event.target.tagName !== "A") location.hash = "incident=" + encodeURIComponent(id);
    });
    return row;
  });
  $("incidents").tBodies[0].replaceChildren(...rows);
  $("incidents-empty").hidden = rows.length > 0;
}

function eventRow(ev) {
  const row = document.createElement("tr");
  row.dataset.testid = "event-row";
  row.dataset.kind = ev.kind;
  cell(row, timeNode(ev.time));
  cell(row, ev.kind, kindClass(ev.kind));
  cell(row, ev.policy);
  cell(row, ev.target);
  cell(row, ev.action);
  cell(row, ev.outcome);
  cell(row, codeNode(ev.values));
  cell(row, codeNode(ev.details));
  return row;
}

async function loadEvents() {
  let events;
  if (selected) {
    const body = await api("/api/v1/incidents/" + encodeURIComponent(selected));
    const kinds = kindFilter();
    events = body.events.filter((ev) => kindMatches(ev.kind, kinds));
    $("events-title").textContent = "Incident " + selected + " (oldest first)";
  } else {
    const body = await api("/api/v1/audit" + query({
      policy: $("filter-policy").value.trim(), kind: kindFilter(), limit: 200,
    }));
    events = body.events;
    $("events-title").textContent = "Recent events (newest first)";
  }
  $("show-recent").hidden = !selected;
  $("events").tBodies[0].replaceChildren(...events.map(eventRow));
  $("events-empty").hidden = events.length > 0;
}

async function refresh() {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  try {
    await loadHealth();
    await Promise.all([loadIncidents(), loadEvents(), loadPolicyNames()]);
    showError(null);
    $("refreshed").textContent = "Last refreshed " + new Date().toLocaleTimeString() + ".";
  } catch (error) {
    showError(error);
  } finally {
    busy = false;
    if (again) {
      again = false;
      refresh();
    }
  }
}

function readHash() {
  const match = /^#incident=(.+)$/.exec(location.hash);
  selected = match ? decodeURIComponent(match[1]) : null;
}

function debounce(fn, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

document.addEventListener("DOMContentLoaded", () => {
  $("kind-names").replaceChildren(...KINDS.map((k) => new Option(k)));
  $("token").value = token();
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    refresh();
  });
  $("token-clear").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $("token").value = "";
    refresh();
  });
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
  const later = debounce(refresh, 300);
  $("filter-policy").addEventListener("input", later);
  $("filter-kind").addEventListener("input", later);
  $("filter-open").addEventListener("change", refresh);
  $("show-recent").addEventListener("click", (event) => {
    event.preventDefault();
    history.pushState(null, "", location.pathname + location.search);
    readHash();
    refresh();
  });
  window.addEventListener("hashchange", () => {
    readHash();
    refresh();
  });
  readHash();
  refresh();
  setInterval(refresh, REFRESH_MS);
});
