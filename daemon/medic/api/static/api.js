// Talking to the agent's API: JSON in, JSON out, the bearer token from this tab's
// sessionStorage when one was given, errors as Error objects carrying the envelope.
"use strict";

export const TOKEN_KEY = "medic.token";

// What the server is: one agent, or the fleet's central database (``/health`` says
// ``view: "central"``), which is read-only and lists many hosts.
export const view = { central: false };

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export async function api(path, options = {}) {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = "Bearer " + token();
  const init = { method: options.method || "GET", headers };
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(path, init);
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

// "?a=1&b=2" from an object, leaving out empty values.
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== "" && value !== null && value !== undefined && value !== false) {
      search.append(key, value);
    }
  }
  const text = search.toString();
  return text ? "?" + text : "";
}
