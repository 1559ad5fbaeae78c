// Medic's review page. Reads the JSON API, renders with textContent only (never HTML
// from data). The URL holds everything a reviewer chose (filters, page, period, the
// incident shown), so reload and a shared link show the same thing. The token, when
// one is needed, lives in sessionStorage for this tab only.
"use strict";

import { api, setToken, token, view } from "./api.js";
import { $, duration } from "./dom.js";
import { loadIncident, onFieldChange } from "./incident.js";
import {
  FILTERS,
  boxesShowUrl,
  fillSuggestions,
  hrefWith,
  loadApprovals,
  loadIncidents,
  loadOverview,
} from "./list.js";
import { loadSilences, silenceBody } from "./silences.js";

const REFRESH_MS = 10000;
let busy = false;
let again = false;

function showError(error) {
  const box = $("error");
  box.hidden = !error;
  box.textContent = "";
  if (!error) return;
  box.textContent = error.status === 401
    ? "This agent needs its API token: enter it above. " + error.message
    : error.message;
  if (error.status === 401 || error.status === 403) {
    $("token-box").open = true;
    $("token").focus();
  }
}

function notice(text) {
  $("notice").hidden = !text;
  $("notice").textContent = text || "";
}

async function loadHealth() {
  const health = await api("/health");
  $("host").textContent = health.host;
  $("version").textContent = health.version;
  $("uptime").textContent = duration(health.uptime_seconds);
  $("policy-count").textContent = String(health.policies);
  // The fleet's central view is read-only and many hosts: show the host, hide changes.
  view.central = health.view === "central";
  for (const id of ["central-banner", "host-column", "filter-host-box"]) $(id).hidden = !view.central;
  if (view.central) $("approvals-card").hidden = true;
  $("silences-card").hidden = view.central;
  return health;
}

async function refresh() {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  try {
    const health = await loadHealth();
    const incident = new URLSearchParams(location.search).get("incident");
    $("list-view").hidden = Boolean(incident);
    $("incident-view").hidden = !incident;
    if (incident) {
      $("back").href = hrefWith({ incident: null, at: null }, true);
      await loadIncident(incident);
      // The banner is the agent's, whatever the view.
      const overview = await api("/api/v1/review/overview?since=1h");
      $("dry-run-banner").hidden = !overview.agent.dry_run;
    } else {
      document.title = "Medic incidents – " + health.host;
      if (view.central) {
        await Promise.all([loadOverview([]), loadIncidents()]);
      } else {
        const { policies } = await api("/api/v1/policies");
        fillSuggestions(policies);
        await Promise.all([
          loadOverview(policies),
          loadIncidents(),
          loadApprovals(answer),
          loadSilences(expire),
        ]);
      }
    }
    showError(null);
    $("refreshed").textContent = "Refreshed " + new Date().toLocaleTimeString() + ".";
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

function go(href, fromBoxes = false) {
  history.pushState(null, "", href);
  if (fromBoxes) boxesShowUrl();
  window.scrollTo(0, 0);
  refresh();
}

async function change(what, fn) {
  try {
    const result = await fn();
    showError(null);
    notice(what(result));
  } catch (error) {
    notice(null);
    showError(error);
  }
  refresh();
}

function answer(incident, approve) {
  const by = $("approval-by").value.trim() || undefined;
  const comment = $("approval-comment").value.trim() || undefined;
  return change(
    (r) => `${approve ? "Approved" : "Denied"}: ${r.policy || incident} on ${r.target || "–"}.`,
    () => api(`/api/v1/incidents/${encodeURIComponent(incident)}/${approve ? "approve" : "deny"}`, {
      method: "POST",
      body: { ...(by ? { by } : {}), ...(comment ? { comment } : {}) },
    }),
  );
}

function expire(id) {
  return change(
    () => `Silence ${id} ended.`,
    () => api("/api/v1/silences/" + encodeURIComponent(id), { method: "DELETE", body: {} }),
  );
}

function wire() {
  $("token").value = token();
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken($("token").value.trim());
    refresh();
  });
  $("token-clear").addEventListener("click", () => {
    setToken("");
    $("token").value = "";
    refresh();
  });
  for (const name of FILTERS) {
    const input = $("filter-" + name);
    const apply = () => go(hrefWith({ [name]: input.value.trim() }), true);
    input.addEventListener("change", apply);
  }
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    go(hrefWith(Object.fromEntries(FILTERS.map((f) => [f, $("filter-" + f).value.trim()]))), true);
  });
  $("filters-clear").addEventListener("click", () => {
    go(hrefWith(Object.fromEntries(FILTERS.map((f) => [f, null]))));
  });
  $("period").addEventListener("change", () => go(hrefWith({ period: $("period").value }, true)));
  $("chart-field").addEventListener("change", onFieldChange);
  $("approve").addEventListener("click", () => answer(currentIncident(), true));
  $("deny").addEventListener("click", () => answer(currentIncident(), false));
  $("silence-form").addEventListener("submit", (event) => {
    event.preventDefault();
    change(
      (s) => `Silence ${s.id} created.`,
      () => api("/api/v1/silences", { method: "POST", body: silenceBody() }),
    );
  });
  // Links inside the page change the URL without reloading it.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || link.origin !== location.origin || link.pathname !== "/") return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    go(link.pathname + link.search);
  });
  window.addEventListener("popstate", refresh);
}

function currentIncident() {
  return new URLSearchParams(location.search).get("incident");
}

// Links in notifications (and the old page) name an incident as "#incident=<id>".
function adoptHashLink() {
  const match = /^#incident=(.+)$/.exec(location.hash);
  if (match) history.replaceState(null, "", hrefWith({ incident: decodeURIComponent(match[1]) }, true));
}

document.addEventListener("DOMContentLoaded", () => {
  adoptHashLink();
  wire();
  refresh();
  setInterval(refresh, REFRESH_MS);
});
