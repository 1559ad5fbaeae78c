// Small DOM helpers: every text goes in through textContent, never as HTML.
"use strict";

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function dateOf(value) {
  return typeof value === "number" ? new Date(value * 1000) : new Date(value);
}

export function timeNode(value, withDate = true) {
  const date = dateOf(value);
  if (value === null || value === undefined || isNaN(date)) return el("span", { text: "–" });
  const iso = date.toISOString();
  return el("time", {
    dateTime: iso,
    title: iso,
    text: withDate ? iso.replace("T", " ").slice(0, 19) : iso.slice(11, 19),
  });
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 10) return (Math.round(seconds * 10) / 10) + "s";
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

export function badge(text, kind, testid) {
  return el("span", { class: "badge badge-" + kind, text, "data-testid": testid || null });
}

// The badges that say how an incident stands: status, escalated, dry-run, waiting.
export function statusBadges(inc) {
  const out = [badge(inc.status, inc.status, "status")];
  if (inc.escalated) out.push(badge("escalated", "escalated", "escalated"));
  if (inc.awaiting_approval) out.push(badge("awaiting approval", "awaiting", "awaiting"));
  if (inc.suppressed) out.push(badge("suppressed", "suppressed", "suppressed"));
  if (inc.dry_run) out.push(badge("dry-run", "dry", "dry-run"));
  return el("span", { class: "badges" }, ...out);
}

export function plain(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
