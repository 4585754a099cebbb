// Admin console: asks for a credential once per tab (sessionStorage only), loads the server-rendered
// view with it, and runs the buttons' actions after a confirmation. The credential is the master key
// (sent as x-functions-key) or, in Entra mode, an access token with the admin app role (a JWT, with
// or without a "Bearer " prefix, sent as Authorization: Bearer).
"use strict";

const KEY = "ciconnector.console.key";
const ACTIONS = {
  replay: (b) => `instances/${enc(b.dataset.instance)}/deadletters/${enc(b.dataset.id)}/replay`,
  "replay-all": (b) => `console/instances/${enc(b.dataset.instance)}/deadletters/replay`,
  test: (b) => `instances/${enc(b.dataset.instance)}/subscriptions/${enc(b.dataset.id)}/test`,
  enable: (b) => `console/instances/${enc(b.dataset.instance)}/subscriptions/${enc(b.dataset.id)}/enable`,
};

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

function say(text, kind) {
  const status = $("status");
  status.textContent = text;
  status.className = "status" + (kind ? " " + kind : "");
}

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

// The stored credential as request headers: a bearer token, or the master key.
function credentialHeaders() {
  const value = sessionStorage.getItem(KEY) || "";
  const token = value.replace(/^bearer\s+/i, "");
  if (token !== value || JWT.test(value)) return { Authorization: `Bearer ${token}` };
  return { "x-functions-key": value };
}

async function call(method, path) {
  const headers = credentialHeaders();
  const response = await fetch(path, { method, headers, cache: "no-store", credentials: "omit" });
  if (response.status === 401 || response.status === 403) {
    const refused = await response.json().catch(() => ({}));
    sessionStorage.removeItem(KEY);
    showSignin();
    throw new Error(`This ${headers.Authorization ? "token" : "key"} was refused: the console needs the master key, `
      + "or in Entra mode an access token with the admin app role (a function key is not enough)."
      + (refused.code ? ` (${refused.code})` : ""));
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.message || `The app answered HTTP ${response.status}.`);
  }
  return body;
}

function showSignin() {
  $("signin").hidden = false;
  $("toolbar").hidden = true;
  $("view").replaceChildren();
  $("key").focus();
}

async function load() {
  say("Loading…");
  const body = await call("GET", "console/view");
  const doc = new DOMParser().parseFromString(body.html, "text/html");
  $("view").replaceChildren(...doc.body.childNodes);
  $("signin").hidden = true;
  $("toolbar").hidden = false;
  say("");
}

function describe(action, result) {
  if (action === "replay-all") {
    return `Replayed ${result.replayed} dead letter(s)` + (result.skipped ? `, ${result.skipped} skipped (subscription gone).` : ".");
  }
  if (action === "enable") return "Subscription re-enabled.";
  return `Queued event ${result.eventId}.`;
}

async function act(button) {
  const action = button.dataset.action;
  if (!window.confirm(button.dataset.confirm)) return;
  button.disabled = true;
  try {
    const result = await call("POST", ACTIONS[action](button));
    await load();
    say(describe(action, result), "ok");
  } catch (error) {
    say(error.message, "error");
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("key").value.trim());
    $("key").value = "";
    load().catch((error) => say(error.message, "error"));
  });
  $("refresh").addEventListener("click", () => load().catch((error) => say(error.message, "error")));
  $("forget").addEventListener("click", () => { sessionStorage.removeItem(KEY); say("Credential forgotten."); showSignin(); });
  $("view").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) act(button);
  });
  if (sessionStorage.getItem(KEY)) {
    load().catch((error) => say(error.message, "error"));
  } else {
    showSignin();
  }
});
