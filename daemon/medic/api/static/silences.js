// Silences on the page: the list from the agent, a form to create one, a button to end
// one early. Creating and ending need the API token (the token box at the top).
"use strict";

import { api } from "./api.js";
import { $, el, timeNode } from "./dom.js";

function matcherText(matchers) {
  return Object.entries(matchers || {})
    .map(([k, v]) => (typeof v === "object" ? `${k}: ${JSON.stringify(v)}` : `${k}: ${v}`))
    .join(", ");
}

export async function loadSilences(expire) {
  const body = await api("/api/v1/silences");
  const items = body.silences.map((s) => {
    const item = el(
      "li",
      { "data-testid": "silence", "data-silence": s.id, class: s.active ? "active" : "" },
      el("strong", { text: matcherText(s.matchers) }),
      " ",
      el("span", { class: "badge badge-" + (s.kind === "maintenance" ? "dry" : "suppressed"), text: s.kind }),
      s.act ? el("span", { class: "badge badge-open", text: "still acts" }) : null,
      el("div", { class: "muted" }, s.reason || "", s.author ? ` — ${s.author}` : ""),
      el(
        "div",
        { class: "muted" },
        s.active ? "until " : "from ",
        timeNode(s.active ? s.ends : s.starts),
      ),
    );
    if (s.kind === "silence") {
      const end = el("button", { type: "button", class: "quiet", text: "Expire now", "data-testid": "expire" });
      end.addEventListener("click", () => expire(s.id));
      item.append(el("span", { class: "actions" }, end));
    }
    return item;
  });
  $("silences").replaceChildren(...items);
  $("silences-empty").hidden = items.length > 0;
}

// The body for POST /api/v1/silences from the form; throws when no matcher is given.
export function silenceBody() {
  const matchers = {};
  const policy = $("silence-policy").value.trim();
  const target = $("silence-target").value.trim();
  if (policy) matchers.policy = policy;
  if (target) matchers.target = target;
  if (Object.keys(matchers).length === 0) {
    throw new Error("A silence needs a policy or a target pattern (use * for any).");
  }
  return {
    matchers,
    duration: $("silence-duration").value,
    author: $("silence-author").value.trim(),
    reason: $("silence-reason").value.trim(),
    act: $("silence-act").checked,
  };
}
