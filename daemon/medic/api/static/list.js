// The list view: the per-policy overview, incidents waiting for approval, and the
// incident list with its filters and pages. Every filter lives in the URL.
"use strict";

import { api, query, view } from "./api.js";
import { $, badge, duration, el, statusBadges, timeNode } from "./dom.js";

export const FILTERS = ["policy", "target", "host", "status", "since"];
const PAGE_SIZE = 50;

// A link to this page with ``changes`` applied to the current URL's parameters.
export function hrefWith(changes, keepPaging = false) {
  const params = new URLSearchParams(location.search);
  if (!keepPaging) {
    params.delete("after");
    params.delete("before");
  }
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === "" || value === undefined) params.delete(key);
    else params.set(key, value);
  }
  const text = params.toString();
  return location.pathname + (text ? "?" + text : "");
}

function percent(rate) {
  return rate === null || rate === undefined ? "–" : Math.round(rate * 100) + "%";
}

function numCell(label, value, className) {
  return el("td", { class: "num " + (className || ""), "data-label": label, text: value });
}

export async function loadOverview(policies) {
  const period = new URLSearchParams(location.search).get("period") || "24h";
  $("period").value = period;
  const host = new URLSearchParams(location.search).get("host");
  const body = await api("/api/v1/review/overview" + query({ since: period, host }));
  $("dry-run-banner").hidden = !body.agent.dry_run;
  const dry = new Set(policies.filter((p) => p.dry_run).map((p) => p.name));
  const rows = body.policies.map((s) => {
    const link = el("a", { href: hrefWith({ policy: s.policy, incident: null }), text: s.policy });
    const name = el("th", { scope: "row", "data-label": "Policy" }, link);
    if (dry.has(s.policy)) name.append(" ", badge("dry-run", "dry", "dry-run"));
    return el(
      "tr",
      { "data-testid": "overview-row", "data-policy": s.policy },
      name,
      numCell("Opened", s.opened),
      numCell("Fired", s.fired),
      numCell("Healed", s.healed, s.healed ? "good" : ""),
      numCell("Escalated", s.escalated, s.escalated ? "bad" : ""),
      numCell("Suppressed", s.suppressed, s.suppressed ? "warn" : ""),
      numCell("Heal rate", percent(s.heal_rate)),
      numCell("Time to heal", duration(s.time_to_heal_median)),
    );
  });
  $("overview").tBodies[0].replaceChildren(...rows);
  $("overview-empty").hidden = rows.length > 0;
}

function incidentRow(inc) {
  const href = hrefWith({ incident: inc.id, at: view.central ? inc.host : null }, true);
  const link = el("a", { href, text: inc.policy, class: "row-link" });
  return el(
    "tr",
    { "data-testid": "incident-row", "data-incident": inc.id },
    el("td", { "data-label": "Opened" }, timeNode(inc.opened)),
    el("td", { "data-label": "Status" }, statusBadges(inc)),
    el("td", { "data-label": "Policy" }, link),
    view.central ? el("td", { "data-label": "Host", "data-testid": "host", text: inc.host || "–" }) : null,
    el("td", { "data-label": "Target", class: "target", text: inc.target || "–" }),
    el("td", { "data-label": "Duration", class: "num", text: duration(inc.duration) }),
    el("td", { "data-label": "Attempts", class: "num", text: inc.attempts }),
  );
}

function pagerLink(id, href) {
  const link = $(id);
  link.hidden = href === null;
  if (href !== null) link.href = href;
}

let shownSearch = null; // the URL whose filters the boxes show: a refresh keeps typing

// The boxes themselves made the URL (a filter changed, Apply): they already show it, and
// a refresh still in flight must not put the old URL's values back over new typing.
export function boxesShowUrl() {
  shownSearch = location.search;
}

export async function loadIncidents() {
  const params = new URLSearchParams(location.search);
  if (shownSearch !== location.search) {
    for (const name of FILTERS) $("filter-" + name).value = params.get(name) || "";
    shownSearch = location.search;
  }
  const wanted = { limit: PAGE_SIZE };
  for (const name of [...FILTERS, "after", "before"]) wanted[name] = params.get(name) || "";
  const body = await api("/api/v1/review/incidents" + query(wanted));
  $("incidents").tBodies[0].replaceChildren(...body.incidents.map(incidentRow));
  $("incidents-empty").hidden = body.incidents.length > 0;
  $("incident-total").textContent =
    body.total === 1 ? "1 incident" : body.total.toLocaleString("en") + " incidents";
  const paging = params.has("after") || params.has("before");
  pagerLink("page-first", paging ? hrefWith({}) : null);
  pagerLink("page-prev", body.prev ? hrefWith({ before: body.prev, after: null }, true) : null);
  pagerLink("page-next", body.next ? hrefWith({ after: body.next, before: null }, true) : null);
}

export async function loadApprovals(answer) {
  const body = await api("/api/v1/review/incidents" + query({ status: "awaiting", limit: 100 }));
  $("approvals-card").hidden = body.incidents.length === 0;
  const items = body.incidents.map((inc) => {
    const approve = el("button", { type: "button", text: "Approve", "data-testid": "approve" });
    const deny = el("button", { type: "button", text: "Deny", class: "danger", "data-testid": "deny" });
    approve.addEventListener("click", () => answer(inc.id, true));
    deny.addEventListener("click", () => answer(inc.id, false));
    return el(
      "li",
      { "data-testid": "approval", "data-incident": inc.id },
      el("a", { href: hrefWith({ incident: inc.id }, true), text: inc.policy }),
      " on ",
      el("strong", { text: inc.target || "–" }),
      " ",
      inc.dry_run ? badge("dry-run", "dry", "dry-run") : null,
      el("span", { class: "muted" }, " asked ", timeNode(inc.last_event)),
      el("span", { class: "actions" }, approve, deny),
    );
  });
  $("approvals").replaceChildren(...items);
}

export function fillSuggestions(policies) {
  $("policy-names").replaceChildren(...policies.map((p) => new Option(p.name)));
  const targets = new Set();
  for (const p of policies) for (const t of p.targets || []) targets.add(t.target);
  $("target-names").replaceChildren(...[...targets].sort().map((t) => new Option(t)));
}
