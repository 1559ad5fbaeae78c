// One incident: the header a reviewer reads first, the measured field as a chart with
// markers, and the timeline with the probe fields shown only where they change.
"use strict";

import { api, query, view } from "./api.js";
import { lineChart } from "./chart.js";
import { $, dateOf, duration, el, plain, statusBadges, timeNode } from "./dom.js";

let current = null; // the incident review last loaded, for the chart field picker

function fact(name, ...value) {
  return [el("dt", { text: name }), el("dd", { "data-fact": name }, ...value)];
}

function list(items, render) {
  if (items.length === 0) return el("span", { class: "muted", text: "none" });
  return el("ul", { class: "plain tight" }, ...items.map((item) => el("li", {}, ...render(item))));
}

function counts(obj) {
  const keys = Object.keys(obj);
  if (keys.length === 0) return "none";
  return keys.map((k) => `${k.replace(/^action\./, "")} ×${obj[k]}`).join(", ");
}

function header(inc) {
  $("incident-title").textContent = `${inc.policy} on ${inc.target || "–"}`;
  $("incident-badges").replaceChildren(statusBadges(inc));
  document.title = `Medic – ${inc.policy} on ${inc.target || "–"}`;
  const answers = inc.approvals;
  const facts = [
    view.central ? fact("Host", inc.host || "–") : [],
    fact("Status", inc.status + (inc.escalated ? ", escalated" : "")),
    fact("Opened", timeNode(inc.opened)),
    fact("Closed", inc.closed ? timeNode(inc.closed) : el("span", { text: "still open" })),
    fact("Duration", duration(inc.duration)),
    fact("Attempts", String(inc.attempts) + (inc.dry_run ? " (dry-run: nothing was run)" : "")),
    fact("Outcomes", counts(inc.outcomes)),
    fact("Suppressed", counts(inc.suppressions)),
    fact(
      "Approval",
      inc.awaiting_approval
        ? el("strong", { text: "waiting for an answer" })
        : list(answers, (a) => [
            el("strong", { text: a.decision }),
            a.by ? ` by ${a.by}` : "",
            a.comment ? ` (“${a.comment}”)` : "",
            " at ",
            timeNode(a.time),
          ]),
    ),
    fact(
      "Notified",
      list(inc.notifications, (n) => [
        n.sent ? "sent " : "failed ",
        el("strong", { text: n.notifier || "?" }),
        n.notification ? ` (${n.notification}${n.reason ? ", " + n.reason : ""})` : "",
        " at ",
        timeNode(n.time),
      ]),
    ),
    fact(
      "Escalations",
      list(inc.escalations, (e) => [
        e.reason || "escalated",
        e.outcome && e.outcome !== "escalated" ? ` (${e.outcome}: nobody was told)` : "",
        " at ",
        timeNode(e.time),
      ]),
    ),
    fact("Incident id", el("code", { text: inc.id })),
  ];
  $("incident-facts").replaceChildren(...facts.flat());
  $("incident-approval").hidden = !inc.awaiting_approval;
}

function drawChart() {
  const chart = current.chart;
  const select = $("chart-field");
  const fields = Object.keys(chart.series);
  const field = select.value && fields.includes(select.value) ? select.value : chart.field;
  select.hidden = fields.length < 2;
  select.replaceChildren(...fields.map((f) => new Option(f, f, false, f === field)));
  const box = $("chart");
  if (!field) {
    box.replaceChildren(el("p", { class: "empty", text: "No measured values were recorded." }));
    $("chart-legend").textContent = "";
    return;
  }
  const start = dateOf(current.incident.opened).getTime() / 1000;
  const boolean = chart.boolean.includes(field);
  const width = box.clientWidth || 640;
  box.replaceChildren(lineChart(field, chart.series[field], chart.markers, { start, boolean, width }));
  $("chart-title").textContent = "Measured: " + field;
  $("chart-legend").textContent = chart.condition ? `Condition: ${chart.condition}` : "";
}

function kindClass(kind) {
  if (/failed|timed_out|interrupted|not_healed|escalated|denied|expired/.test(kind)) return "bad";
  if (/suppressed|would_run|fired|requested|pending/.test(kind)) return "warn";
  if (/succeeded|healed|cleared|sent|granted/.test(kind)) return "good";
  return "";
}

// Details worth a line: everything but the engine's own bookkeeping keys.
function detailText(details) {
  const skip = new Set(["dry_run"]);
  return Object.entries(details || {})
    .filter(([k, v]) => !skip.has(k) && v !== null && v !== "")
    .map(([k, v]) => `${k}=${plain(v)}`)
    .join("  ");
}

function timelineItem(ev, opened) {
  const offset = (dateOf(ev.time) - dateOf(opened)) / 1000;
  const head = el(
    "div",
    { class: "tl-head" },
    timeNode(ev.time, false),
    el("span", { class: "muted tl-offset", text: offset >= 0 ? "+" + duration(offset) : "" }),
    el("span", { class: "kind " + kindClass(ev.kind), text: ev.kind }),
    ev.outcome ? el("span", { class: "muted", text: ev.outcome }) : null,
    ev.dry_run ? el("span", { class: "badge badge-dry", text: "dry-run", "data-testid": "dry-run" }) : null,
  );
  const item = el("li", { "data-testid": "timeline-item", "data-kind": ev.kind }, head);
  const changed = ev.changed ? Object.entries(ev.changed) : [];
  if (changed.length > 0) {
    item.append(
      el(
        "div",
        { class: "tl-values", "data-testid": "changed" },
        ...changed.map(([k, v]) => el("code", { text: `${k}=${plain(v)}` })),
      ),
    );
  }
  const details = detailText(ev.details);
  if (details) item.append(el("div", { class: "tl-details", text: details }));
  return item;
}

export async function loadIncident(id) {
  // Central incident ids are unique per host: the list's links name it as ``at``.
  const host = new URLSearchParams(location.search).get("at");
  current = await api("/api/v1/review/incidents/" + encodeURIComponent(id) + query({ host }));
  header(current.incident);
  drawChart();
  $("timeline").replaceChildren(
    ...current.timeline.map((ev) => timelineItem(ev, current.incident.opened)),
  );
}

export function onFieldChange() {
  if (current) drawChart();
}
