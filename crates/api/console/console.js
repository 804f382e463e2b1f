// Roster console (issue 18): one ES module, no framework, no dependency. It speaks only
// Roster's canonical API (docs/api.md) on this origin, with the API token the
// administrator pastes: kept in this tab's sessionStorage, sent as an Authorization
// header, never put in a URL, a cookie or a log. Every piece of text from the API is put
// into the page as text (textContent), never as HTML.

const TOKEN_KEY = "roster.console.token";
const ORG_KEY = "roster.console.org";
const GLOBAL_KEY = "roster.console.global";
const PAGE_SIZE = 25;

const main = document.getElementById("main");
const alertBox = document.getElementById("alert");
const statusBox = document.getElementById("status");

// ---------------------------------------------------------------- session

const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  get org() { return sessionStorage.getItem(ORG_KEY); },
  set(token, org) {
    sessionStorage.setItem(TOKEN_KEY, token);
    if (org) sessionStorage.setItem(ORG_KEY, org); else sessionStorage.removeItem(ORG_KEY);
  },
  setOrg(org) { sessionStorage.setItem(ORG_KEY, org); },
  clear() { for (const k of [TOKEN_KEY, ORG_KEY, GLOBAL_KEY]) sessionStorage.removeItem(k); },
};

// ---------------------------------------------------------------- the API

/** An answer of the canonical API: {ok, status, data, error, etag}. */
async function api(method, path, { body, ifMatch, token, prefer } = {}) {
  const headers = { Accept: "application/json" };
  const bearer = token ?? session.token;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (ifMatch) headers["If-Match"] = ifMatch;
  if (prefer) headers.Prefer = prefer;
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
    });
  } catch {
    return { ok: false, status: 0, error: { code: 0, message: "network" } };
  }
  let json = null;
  try { json = await resp.json(); } catch { json = null; }
  const out = { ok: resp.ok && json?.status === true, status: resp.status, etag: resp.headers.get("ETag") };
  if (out.ok) out.data = json.data;
  else out.error = json?.error ?? { code: resp.status, message: `HTTP ${resp.status}` };
  return out;
}

const orgBase = () => `/v1/organizations/${encodeURIComponent(session.org)}`;
const userBase = (id) => `${orgBase()}/mdm/users/${encodeURIComponent(id)}`;

/** The field an error message names (`invalid <field>: …`, `<field> is already in use`). */
function errorField(error) {
  const m = /^invalid ([A-Za-z0-9_.[\]]+):/.exec(error?.message ?? "")
    ?? /^([A-Za-z0-9_.[\]]+) is already in use/.exec(error?.message ?? "");
  return m ? m[1] : null;
}

const FIELD_NAMES = {
  username: "Username", email: "Email", firstName: "First name", lastName: "Last name",
  company: "Company", countryCode: "Country code", password: "Password",
  newPassword: "New password", q: "Search", status: "Status", cursor: "Page", limit: "Page size",
  reason: "Reason", days: "Days", at: "Remove at", warnDaysBefore: "Warn days before",
};
const fieldName = (f) => FIELD_NAMES[f] ?? f;

/** An API error in words a person understands, naming the field when there is one. */
function describe(error, what = "this") {
  const code = error?.code;
  const message = error?.message ?? "";
  const field = errorField(error);
  switch (code) {
    case 0: return "The server could not be reached. Check that Roster is running and try again.";
    case 1001: case 1002: {
      const reason = message.replace(/^invalid [^:]+:\s*/, "");
      return field
        ? `${fieldName(field)} (${field}) is not valid: ${reason}.`
        : `The request was not accepted: ${message}.`;
    }
    case 1003: return "What you entered is too large to send.";
    case 2001: return "The password could not be changed.";
    case 3001: return `Not found: ${what} does not exist (any more), or belongs to another organization.`;
    case 3002: return `${fieldName(field ?? "value")} (${field ?? "value"}) is already in use by someone else. Choose another.`;
    case 3003: return "Someone else changed this user since you opened it, so your changes were not saved.";
    case 3004: return "Another request is removing this user right now. Wait a moment and reload.";
    case 4001: return "This API token is not valid: it is unknown, expired or revoked. Sign in with a valid token.";
    case 4002: return "No API token was sent. Sign in with a token.";
    case 4003: {
      const perm = /requires (\S+)/.exec(message);
      return perm
        ? `This token is not allowed to do that: it needs the permission ${perm[1]}.`
        : "This token is not allowed to do that.";
    }
    case 4029: return "Too many requests with this token this minute. Wait a little and try again.";
    case 5000: return "The server's storage failed. Nothing was lost; try again.";
    case 5054: return "The user still has active devices.";
    case 5055: return "The user still has pending enrollment tokens.";
    case 5059: return "The user is under a legal hold: no removal goes through until it is lifted or ends.";
    case 5060: return "The organization requires a fresh export of the user's data before any removal.";
    default: return message ? `The server refused: ${message}.` : "Something went wrong.";
  }
}

// ---------------------------------------------------------------- the page

/** Makes an element: `h("a", {href: "#/"}, "text", child…)`. Strings become text. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function showError(text, extra) {
  alertBox.replaceChildren(h("span", {}, text));
  if (extra) alertBox.append(" ", extra);
  alertBox.hidden = false;
}
function clearMessages() {
  alertBox.hidden = true;
  alertBox.replaceChildren();
  statusBox.textContent = "";
}
function say(text) { statusBox.textContent = text; }

/** Shows an API error: marks the form's field it names, and says it in words. */
function showApiError(result, { form, what } = {}) {
  if (result.status === 401) {
    session.clear();
    showError(describe(result.error, what));
    render();
    return;
  }
  const text = describe(result.error, what);
  const field = errorField(result.error);
  const input = field && form ? form.querySelector(`[name="${CSS.escape(field.replace(/\[.*$/, ""))}"]`) : null;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    const id = `${input.id}-error`;
    form.querySelector(`#${CSS.escape(id)}`)?.remove();
    input.after(h("p", { id, class: "field-error" }, text));
    input.setAttribute("aria-describedby", id);
    input.focus();
  }
  showError(text);
}

function clearFieldErrors(form) {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of form.querySelectorAll(".field-error")) el.remove();
}

let fieldSeq = 0;
/** A labelled input. */
function field(label, name, { type = "text", value = "", autocomplete = "off", required, hint } = {}) {
  const id = `f-${name}-${++fieldSeq}`;
  const input = h("input", { id, name, type, autocomplete, required, spellcheck: "false" });
  input.value = value ?? "";
  return h("div", {}, h("label", { for: id }, label), input, hint ? h("p", { class: "muted" }, hint) : null);
}

function page(title, ...children) {
  const heading = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(heading, ...children);
  document.title = `${title} · Roster console`;
  heading.focus();
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
const badge = (s) => h("span", { class: `badge ${s}` }, s);
const table = (head, rows, label) => h("div", { class: "table-wrap" },
  h("table", { class: "cards", "aria-label": label },
    h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows)));
const cell = (label, ...content) => h("td", { "data-label": label }, ...content);

function busy(button, on) {
  button.disabled = on;
  button.setAttribute("aria-busy", on ? "true" : "false");
}

// ---------------------------------------------------------------- routing

function route() {
  const hash = location.hash.startsWith("#/") ? location.hash.slice(2) : "";
  const [path, query = ""] = hash.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query) };
}
const go = (hash) => { if (location.hash === hash) render(); else location.hash = hash; };

window.addEventListener("hashchange", () => { if (location.hash === "#main") return; clearMessages(); render(); });
document.getElementById("signout").addEventListener("click", () => {
  session.clear();
  clearMessages();
  say("Signed out. The token was removed from this tab.");
  go("#/signin");
});

async function render() {
  const nav = document.getElementById("nav");
  const { parts, params } = route();
  if (!session.token) { nav.hidden = true; return signIn(); }
  nav.hidden = false;
  document.getElementById("who").textContent = session.org ? `Organization: ${session.org}` : "No organization";
  document.getElementById("nav-orgs").hidden = sessionStorage.getItem(GLOBAL_KEY) !== "1";
  if (parts[0] === "orgs" || !session.org) return orgs();
  if (parts[0] === "audit") return audit(params);
  if (parts[0] === "users" && parts[1] === "new") return newUser();
  if (parts[0] === "users" && parts[1]) return user(parts[1]);
  return users(params);
}

// ---------------------------------------------------------------- sign-in

function signIn() {
  const tokenField = field("API token", "token", { type: "password", hint: "A global token or an organization's token (rst_…). It stays in this browser tab only, until you sign out or close the tab." });
  const orgField = field("Organization (id or slug)", "organization", { hint: "Needed for an organization's token; with a global token you pick one next." });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "stack", "aria-label": "Sign in", novalidate: true }, tokenField, orgField, h("div", {}, button));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearMessages();
    clearFieldErrors(form);
    const token = form.elements.token.value.trim();
    const org = form.elements.organization.value.trim();
    if (!token) {
      showApiError({ error: { code: 1001, message: "invalid token: paste an API token" } }, { form });
      return;
    }
    busy(button, true);
    try {
      // A global token may list the organizations; an organization's token may not.
      const listed = await api("GET", "/v1/organizations?limit=1", { token });
      if (listed.status === 401) {
        showApiError({ status: 0, error: listed.error }, { form });
        form.elements.token.setAttribute("aria-invalid", "true");
        form.elements.token.focus();
        return;
      }
      if (listed.ok) {
        sessionStorage.setItem(GLOBAL_KEY, "1");
        session.set(token, org || null);
        if (org) return await openOrg(org, form);
        return go("#/orgs");
      }
      sessionStorage.removeItem(GLOBAL_KEY);
      if (!org) {
        showApiError({ error: { code: 1001, message: "invalid organization: this is an organization's token; enter its organization's id or slug" } }, { form });
        return;
      }
      session.set(token, org);
      await openOrg(org, form);
    } finally {
      busy(button, false);
    }
  });
  page("Sign in", h("p", {}, "Paste an API token to manage Roster's users. The console talks to this server's API only."), form);
}

/** Checks the token can read `org`'s users, then opens its user list. */
async function openOrg(org, form) {
  const probe = await api("GET", `/v1/organizations/${encodeURIComponent(org)}/mdm/users/count`);
  if (!probe.ok) {
    const keep = probe.status !== 401;
    if (probe.error.code === 3001) {
      probe.error = { code: 1001, message: "invalid organization: no such organization for this token" };
    }
    if (!keep) session.clear();
    else session.set(session.token, null);
    showApiError({ status: 400, error: probe.error }, { form });
    if (!keep) render();
    return;
  }
  session.setOrg(org);
  say(`Signed in to organization ${org}.`);
  go("#/users");
}

// ---------------------------------------------------------------- organizations

async function orgs() {
  page("Organizations", h("p", { class: "muted" }, "Loading…"));
  const list = await api("GET", "/v1/organizations?limit=200");
  if (!list.ok) return showApiError(list);
  const rows = list.data.organizations.map((o) => h("tr", {},
    cell("Name", o.name), cell("Slug", h("code", {}, o.slug)),
    cell("Restore window", o.policy?.retentionDays ? `${o.policy.retentionDays} days` : "none (removals are permanent)"),
    cell("Open", h("button", { type: "button", onclick: () => { session.setOrg(o.slug); say(`Organization ${o.name} opened.`); go("#/users"); } }, `Open ${o.slug}`))));
  page("Organizations", h("p", {}, "This is a global token: pick the organization to manage."),
    rows.length ? table(["Name", "Slug", "Restore window", ""], rows, "Organizations") : h("p", {}, "There is no organization yet."));
}

// ---------------------------------------------------------------- users

const STATUSES = [
  ["", "Active and disabled"], ["active", "Active"], ["disabled", "Disabled"],
  ["pending_deletion", "Being removed"], ["deleted", "Softly removed (restorable)"],
];

async function users(params) {
  const q = params.get("q") ?? "";
  const status = params.get("status") ?? "";
  const cursor = params.get("cursor") ?? "";
  const prev = params.getAll("prev");

  const search = field("Search", "q", { type: "search", value: q, hint: "Part of a username, email, first or last name." });
  const select = h("select", { id: "f-status", name: "status" }, STATUSES.map(([v, l]) => h("option", { value: v, selected: v === status }, l)));
  const form = h("form", { class: "row", role: "search", "aria-label": "Find users" },
    search, h("div", {}, h("label", { for: "f-status" }, "Status"), select),
    h("div", {}, h("button", { type: "submit", class: "primary" }, "Search")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    if (form.elements.q.value.trim()) p.set("q", form.elements.q.value.trim());
    if (select.value) p.set("status", select.value);
    go(`#/users?${p}`);
  });

  const qs = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (q) qs.set("q", q);
  if (status) qs.set("status", status);
  if (cursor) qs.set("cursor", cursor);
  const [list, count] = await Promise.all([api("GET", `${orgBase()}/mdm/users?${qs}`), api("GET", `${orgBase()}/mdm/users/count`)]);
  const countText = count.ok ? `${count.data.count} user${count.data.count === 1 ? "" : "s"} in the organization (softly removed ones not counted).` : "";
  if (!list.ok) {
    page("Users", h("p", { id: "user-count" }, countText), form);
    return showApiError(list, { form });
  }
  const found = list.data.users;
  const selected = new Set();
  const bulkButton = h("button", { type: "button", class: "danger", disabled: true }, "Remove selected");
  const rows = found.map((u) => {
    const box = h("input", { type: "checkbox", "aria-label": `Select ${u.username}`, onchange: (ev) => {
      if (ev.target.checked) selected.add(u); else selected.delete(u);
      bulkButton.disabled = selected.size === 0;
      bulkButton.textContent = selected.size ? `Remove selected (${selected.size})` : "Remove selected";
    } });
    const deleted = u.status === "deleted";
    return h("tr", {},
      cell("Select", deleted ? "" : box),
      cell("Username", deleted ? u.username : h("a", { href: `#/users/${u.id}` }, u.username)),
      cell("Email", u.email ?? "—"),
      cell("Name", `${u.firstName} ${u.lastName}`.trim() || "—"),
      cell("Status", badge(u.status)),
      cell("Restore", deleted ? restoreControls(u) : ""));
  });

  const pager = h("div", { class: "actions" });
  if (cursor) {
    const back = new URLSearchParams(params); back.delete("prev");
    const before = prev.slice(0, -1);
    back.delete("cursor");
    if (prev.length && prev[prev.length - 1]) back.set("cursor", prev[prev.length - 1]);
    for (const p of before) back.append("prev", p);
    pager.append(h("a", { href: `#/users?${back}` }, "Previous page"));
  }
  if (list.data.nextCursor) {
    const next = new URLSearchParams(params);
    next.set("cursor", list.data.nextCursor);
    next.append("prev", cursor);
    pager.append(h("a", { href: `#/users?${next}` }, "Next page"));
  }
  bulkButton.addEventListener("click", () => bulkRemove([...selected], bulkArea));
  const bulkArea = h("section", { "aria-label": "Bulk removal", id: "bulk" });
  page("Users",
    h("p", { id: "user-count" }, countText),
    form,
    h("div", { class: "actions" }, h("a", { href: "#/users/new" }, "New user"), bulkButton),
    bulkArea,
    found.length
      ? table(["", "Username", "Email", "Name", "Status", "Restore"], rows, "Users")
      : h("p", { id: "no-users" }, q || status ? "No user matches." : "No users on this page."),
    pager);
}

/** The restore deadline of a softly removed user and its Restore button (`deadline`:
 * with the deadline beside it). */
function restoreControls(u, deadline = true) {
  const button = h("button", { type: "button" }, `Restore ${u.username}`);
  button.addEventListener("click", async () => {
    busy(button, true);
    const r = await api("POST", `${userBase(u.id)}/restore`);
    busy(button, false);
    if (!r.ok) return showApiError(r, { what: "the removed user" });
    say(`${u.username} was restored.`);
    go(`#/users/${u.id}`);
  });
  return deadline ? h("span", {}, h("span", { class: "deadline" }, `until ${when(u.restorableUntil)} `), button) : button;
}

async function bulkRemove(list, area) {
  clearMessages();
  const names = list.map((u) => u.username).join(", ");
  const yes = h("button", { type: "button", class: "danger" }, `Yes, remove ${list.length} user${list.length === 1 ? "" : "s"}`);
  const no = h("button", { type: "button", onclick: () => area.replaceChildren() }, "Cancel");
  area.replaceChildren(h("div", { class: "panel danger" },
    h("h2", {}, "Remove the selected users?"),
    h("p", {}, `Remove ${names}? Users with active devices or pending enrollment tokens are refused and stay.`),
    h("div", { class: "actions" }, yes, no)));
  yes.focus();
  yes.addEventListener("click", async () => {
    busy(yes, true);
    const r = await api("POST", `${orgBase()}/mdm/users/removals`, { body: { ids: list.map((u) => u.id) } });
    if (!r.ok) { busy(yes, false); return showApiError(r); }
    const byId = new Map(list.map((u) => [u.id, u.username]));
    const rows = r.data.results.map((x) => h("tr", {},
      cell("User", byId.get(x.id) ?? x.id),
      cell("Result", x.status ? (x.data?.restorable ? "removed (restorable)" : "removed") : `not removed: ${describe(x.error)}`)));
    const done = r.data.results.filter((x) => x.status).length;
    area.replaceChildren(h("div", { class: "panel" }, h("h2", { tabindex: "-1" }, "Bulk removal result"),
      h("p", {}, `${done} of ${r.data.results.length} removed.`),
      table(["User", "Result"], rows, "Bulk removal result"),
      h("div", { class: "actions" }, h("button", { type: "button", onclick: () => render() }, "Refresh the list"))));
    area.querySelector("h2").focus();
  });
}

function newUser() {
  const form = h("form", { class: "stack", "aria-label": "New user", novalidate: true },
    field("Username", "username", { required: true }), field("Email", "email", { type: "email" }),
    field("First name", "firstName"), field("Last name", "lastName"), field("Company", "company"),
    field("Country code", "countryCode", { hint: "Two letters, ISO 3166-1 (e.g. DE)." }),
    field("Password", "password", { type: "password", autocomplete: "new-password", hint: "Optional; 8 to 256 characters." }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create user"), h("a", { href: "#/users" }, "Cancel")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearMessages();
    clearFieldErrors(form);
    const body = {};
    for (const name of ["username", "email", "firstName", "lastName", "company", "countryCode", "password"]) {
      const v = form.elements[name].value.trim();
      if (v) body[name] = v;
    }
    const r = await api("POST", `${orgBase()}/mdm/users`, { body });
    if (!r.ok) return showApiError(r, { form });
    say(`User ${r.data.username} was created.`);
    go(`#/users/${r.data.id}`);
  });
  page("New user", form);
}

// ---------------------------------------------------------------- one user

async function user(id) {
  page("User", h("p", { class: "muted" }, "Loading…"));
  const u = await api("GET", userBase(id));
  if (!u.ok) {
    page("User", h("p", {}, h("a", { href: "#/users" }, "Back to the users")));
    return showApiError(u, { what: "this user" });
  }
  const user = u.data;
  let etag = u.etag;
  const [groups, devices, tokens, subs, owned, events, hold, schedule] = await Promise.all([
    api("GET", `${userBase(id)}/groups`),
    api("GET", `${userBase(id)}/devices`),
    api("GET", `${userBase(id)}/enrollment-tokens`),
    api("GET", `${userBase(id)}/subscriptions`),
    ownedTokens(id),
    api("GET", `${orgBase()}/audit?limit=50&userId=${encodeURIComponent(id)}`),
    api("GET", `${userBase(id)}/hold`),
    api("GET", `${userBase(id)}/removal-schedule`),
  ]);

  // Profile: edit with If-Match.
  const profile = h("form", { class: "stack", "aria-label": "Profile", novalidate: true },
    field("Email", "email", { type: "email", value: user.email ?? "" }),
    field("First name", "firstName", { value: user.firstName }),
    field("Last name", "lastName", { value: user.lastName }),
    field("Company", "company", { value: user.company }),
    field("Country code", "countryCode", { value: user.countryCode }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save changes")));
  profile.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearMessages();
    clearFieldErrors(profile);
    const body = {};
    for (const name of ["email", "firstName", "lastName", "company", "countryCode"]) {
      const v = profile.elements[name].value.trim();
      const was = name === "email" ? user.email ?? "" : user[name] ?? "";
      if (v !== was) body[name] = name === "email" && !v ? null : v;
    }
    if (!Object.keys(body).length) return say("Nothing changed.");
    const r = await api("PATCH", userBase(id), { body, ifMatch: etag });
    if (r.status === 412) {
      const reload = h("button", { type: "button", onclick: () => { clearMessages(); render(); } }, "Reload the user");
      showError(`${describe(r.error)} Reload to see their changes, then make yours again.`, reload);
      reload.focus();
      return;
    }
    if (!r.ok) return showApiError(r, { form: profile, what: "this user" });
    etag = r.etag;
    Object.assign(user, r.data);
    say(`Saved ${user.username}.`);
  });

  // Enable / disable.
  const enabled = user.status === "active";
  const toggle = h("button", { type: "button" }, enabled ? "Disable user" : "Enable user");
  toggle.addEventListener("click", async () => {
    busy(toggle, true);
    const r = await api("POST", `${userBase(id)}/status`, { body: { status: enabled ? "disabled" : "active" } });
    busy(toggle, false);
    if (!r.ok) return showApiError(r, { what: "this user" });
    say(`${user.username} is now ${r.data.status}.`);
    render();
  });

  // Password reset.
  const reset = h("form", { class: "row", "aria-label": "Password reset", novalidate: true },
    field("New password", "newPassword", { type: "password", autocomplete: "new-password" }),
    h("div", {}, h("button", { type: "submit" }, "Reset password")));
  reset.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearMessages();
    clearFieldErrors(reset);
    const r = await api("POST", `${userBase(id)}/password-reset`, { body: { newPassword: reset.elements.newPassword.value } });
    if (!r.ok) return showApiError(r, { form: reset });
    reset.reset();
    say(`The password of ${user.username} was reset.`);
  });

  const exportButton = h("button", { type: "button", id: "export" }, "Export data");
  exportButton.addEventListener("click", async () => {
    busy(exportButton, true);
    const r = await exportUser(user);
    busy(exportButton, false);
    if (!r.ok) return showApiError(r, { what: "this user" });
  });

  const removeButton = h("button", { type: "button", class: "danger", id: "remove" }, "Remove user");
  const removal = h("section", { id: "removal", "aria-label": "Removal" });
  removeButton.addEventListener("click", () => dryRun(user, removal));

  const list = (r, show, empty) => (r.ok ? (r.data.length ? show(r.data) : h("p", { class: "muted" }, empty)) : h("p", {}, describe(r.error)));

  page(`User ${user.username}`,
    h("p", {}, h("a", { href: "#/users" }, "Back to the users")),
    h("dl", { class: "facts" },
      h("dt", {}, "Status"), h("dd", { id: "user-status" }, badge(user.status)),
      h("dt", {}, "Id"), h("dd", {}, h("code", {}, user.id)),
      h("dt", {}, "Source"), h("dd", {}, user.source),
      h("dt", {}, "Created"), h("dd", {}, when(user.createdAt)),
      h("dt", {}, "Updated"), h("dd", {}, when(user.updatedAt)),
      h("dt", {}, "Password set"), h("dd", {}, when(user.passwordChangedAt))),
    h("div", { class: "actions" }, toggle, exportButton, removeButton),
    removal,
    h("h2", {}, "Legal hold"), h("section", { id: "hold", "aria-label": "Legal hold" }, holdPanel(user, hold)),
    h("h2", {}, "Scheduled removal"), h("section", { id: "schedule", "aria-label": "Scheduled removal" }, schedulePanel(user, schedule)),
    h("h2", {}, "Profile"), profile,
    h("h2", {}, "Password"), reset,
    h("h2", {}, "Groups"),
    list(groups, (gs) => h("ul", {}, gs.map((g) => h("li", {}, g.name))), "In no group."),
    h("h2", {}, "Devices"),
    h("div", { id: "devices" }, list(devices, (ds) => table(["Name", "Type", "Identifier", "Ownership", "Status"], ds.map((d) => h("tr", {},
      cell("Name", d.name), cell("Type", d.type), cell("Identifier", d.deviceIdentifier),
      cell("Ownership", d.enrolmentInfo?.ownership ?? "—"), cell("Status", badge(d.enrolmentInfo?.status ?? "—")))), "Devices"), "No devices.")),
    h("h2", {}, "Enrollment tokens"),
    h("div", { id: "enrollment-tokens" }, list(tokens, (ts) => table(["Id", "Status", "Expires"], ts.map((t) => h("tr", {},
      cell("Id", h("code", {}, t.id)), cell("Status", badge(t.status)), cell("Expires", when(t.expiresAt)))), "Enrollment tokens"), "No enrollment tokens.")),
    h("h2", {}, "Subscriptions"),
    list(subs, (ss) => table(["Scope", "Name", "State"], ss.map((s) => h("tr", {},
      cell("Scope", h("code", {}, s.scope)), cell("Name", s.displayName ?? "—"), cell("State", s.state))), "Subscriptions"), "No subscriptions."),
    h("h2", {}, "API tokens the user owns"),
    list(owned, (ts) => table(["Name", "State", "Permissions", "Expires"], ts.map((t) => h("tr", {},
      cell("Name", t.name), cell("State", badge(t.state)), cell("Permissions", t.permissions.join(", ")), cell("Expires", when(t.expiresAt)))), "API tokens"), "None."),
    h("h2", {}, "Audit events"),
    events.ok ? auditTable(events.data.events, "No audit events for this user.") : h("p", {}, describe(events.error)));
}

/**
 * The user's legal hold (docs/lifecycle.md): what it is and a Lift button, or a form to
 * place one (a reason and an optional number of days). Placing needs
 * mdm.global.legalHold.create, lifting .remove; the API says so when the token lacks it.
 */
function holdPanel(user, r) {
  if (!r.ok) return h("p", {}, describe(r.error));
  const held = r.data.hold;
  const reload = async () => {
    const again = await api("GET", `${userBase(user.id)}/hold`);
    document.getElementById("hold")?.replaceChildren(holdPanel(user, again));
  };
  if (held?.active) {
    const lift = h("button", { type: "button", class: "danger" }, "Lift the hold");
    lift.addEventListener("click", async () => {
      busy(lift, true);
      const x = await api("DELETE", `${userBase(user.id)}/hold`);
      busy(lift, false);
      if (!x.ok) return showApiError(x, { what: "this user" });
      say(`The legal hold on ${user.username} was lifted.`);
      reload();
    });
    return h("div", { class: "panel warn" },
      h("p", {}, h("strong", {}, "Held: "), "no removal of this user goes through while the hold is active."),
      h("dl", { class: "facts" },
        h("dt", {}, "Reason"), h("dd", {}, held.reason),
        h("dt", {}, "Placed"), h("dd", {}, when(held.placedAt)),
        h("dt", {}, "Placed by"), h("dd", {}, h("code", {}, held.placedBy)),
        h("dt", {}, "Ends"), h("dd", {}, held.until ? when(held.until) : "when lifted")),
      h("div", { class: "actions" }, lift));
  }
  const form = h("form", { class: "row", "aria-label": "Place a legal hold", novalidate: true },
    field("Reason", "reason", { hint: "Why the user's data must be kept, e.g. a matter number. Shown only here and in the API." }),
    field("Days", "days", { type: "number", hint: "Leave empty to hold until lifted." }),
    h("div", {}, h("button", { type: "submit" }, "Place legal hold")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearMessages();
    clearFieldErrors(form);
    const body = { reason: form.elements.reason.value };
    const days = form.elements.days.value.trim();
    if (days) {
      const n = Number(days);
      if (!Number.isInteger(n) || n < 1 || n > 3660) {
        return showApiError({ status: 400, error: { code: 1001, message: "invalid days: must be a whole number of days from 1 to 3660" } }, { form });
      }
      body.expiresIn = n * 86400;
    }
    const x = await api("PUT", `${userBase(user.id)}/hold`, { body });
    if (!x.ok) return showApiError(x, { form, what: "this user" });
    say(`${user.username} is now under a legal hold.`);
    reload();
  });
  return h("div", {}, h("p", { class: "muted" }, held ? `The last hold ended ${when(held.until)}.` : "No legal hold."), form);
}

/**
 * Exports the user's data (GET …/export, audited, kept nowhere by the server) and hands
 * the document to the browser as a file download: `<username>-export.json`.
 */
async function exportUser(user) {
  const r = await api("GET", `${userBase(user.id)}/export`);
  if (!r.ok) return r;
  const blob = new Blob([JSON.stringify(r.data, null, 2)], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: `${user.username}-export.json`, id: "export-link" }, "the export");
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  const said = `Exported the data of ${user.username} (${r.data.devices.length} devices, ${r.data.auditEvents.length} audit events) as ${user.username}-export.json.`;
  say(said);
  return { ok: true, said };
}

/**
 * The user's scheduled removal (docs/lifecycle.md): when, the warning, and a Cancel
 * button; or a form to schedule one (a date and time, optional warning days).
 */
function schedulePanel(user, r) {
  if (!r.ok) return h("p", {}, describe(r.error));
  const sched = r.data.schedule;
  const reload = async () => {
    const again = await api("GET", `${userBase(user.id)}/removal-schedule`);
    document.getElementById("schedule")?.replaceChildren(schedulePanel(user, again));
  };
  if (sched) {
    const cancel = h("button", { type: "button" }, "Cancel the scheduled removal");
    cancel.addEventListener("click", async () => {
      busy(cancel, true);
      const x = await api("DELETE", `${userBase(user.id)}/removal-schedule`);
      busy(cancel, false);
      if (!x.ok) return showApiError(x, { what: "this user" });
      say(`The scheduled removal of ${user.username} was cancelled.`);
      reload();
    });
    return h("div", { class: "panel warn" },
      h("p", {}, h("strong", {}, "Scheduled: "), `${user.username} will be removed at the first scheduled run after ${when(sched.at)}.`),
      h("dl", { class: "facts" },
        h("dt", {}, "Removal at"), h("dd", {}, when(sched.at)),
        h("dt", {}, "Warning"), h("dd", {}, sched.warnAt ? `${when(sched.warnAt)}${sched.warned ? " (queued)" : ""}` : "none"),
        h("dt", {}, "Scheduled by"), h("dd", {}, h("code", {}, sched.scheduledBy))),
      h("div", { class: "actions" }, cancel));
  }
  const form = h("form", { class: "row", "aria-label": "Schedule the removal", novalidate: true },
    field("Remove at", "at", { type: "datetime-local" }),
    field("Warn days before", "warnDaysBefore", { type: "number", hint: "Leave empty for no warning message." }),
    h("div", {}, h("button", { type: "submit" }, "Schedule removal")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearMessages();
    clearFieldErrors(form);
    const local = form.elements.at.value;
    const at = local ? new Date(local) : null;
    if (!at || Number.isNaN(at.getTime())) {
      return showApiError({ status: 400, error: { code: 1001, message: "invalid at: must be a date and time" } }, { form });
    }
    const body = { at: at.toISOString() };
    const warn = form.elements.warnDaysBefore.value.trim();
    if (warn) body.warnDaysBefore = Number(warn);
    const x = await api("PUT", `${userBase(user.id)}/removal-schedule`, { body });
    if (!x.ok) return showApiError(x, { form, what: "this user" });
    say(`The removal of ${user.username} is scheduled.`);
    reload();
  });
  return h("div", {}, h("p", { class: "muted" }, "No removal scheduled."), form);
}

/** The organization's API tokens owned by user `id` (every page of the token list). */
async function ownedTokens(id) {
  const mine = [];
  let cursor = "";
  for (let i = 0; i < 20; i++) {
    const r = await api("GET", `${orgBase()}/tokens?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    if (!r.ok) return r;
    mine.push(...r.data.tokens.filter((t) => t.ownerUserId === id));
    if (!r.data.nextCursor) break;
    cursor = r.data.nextCursor;
  }
  return { ok: true, data: mine };
}

// ---------------------------------------------------------------- removal

const WOULD = [["devices", "devices"], ["enrollmentTokens", "enrollment tokens"], ["apiTokens", "API tokens (revoked)"],
  ["subscriptions", "subscriptions"], ["messages", "outbox messages"], ["groups", "group memberships"]];

/** Step 1: the dry run — what would go, what blocks it, and the fix for each blocker. */
async function dryRun(user, area) {
  clearMessages();
  area.replaceChildren(h("p", { class: "muted" }, "Checking what the removal would do…"));
  const r = await api("DELETE", `${userBase(user.id)}?dryRun=true`);
  if (!r.ok) { area.replaceChildren(); return showApiError(r, { what: "this user" }); }
  const plan = r.data;
  const would = h("ul", {}, WOULD.map(([k, label]) => h("li", {}, `${plan.wouldRemove?.[k] ?? 0} ${label}`)));
  const heading = h("h2", { tabindex: "-1" }, `Remove ${user.username}?`);
  const panel = h("div", { class: `panel ${plan.removable ? "" : "warn"}`, id: "dry-run" }, heading,
    h("p", {}, plan.mode === "soft"
      ? "The removal is soft: the user can be restored within the organization's restore window."
      : "The removal is permanent: nothing of the user can be restored."),
    h("h3", {}, "It would remove"), would);
  if (plan.removable) {
    const next = h("button", { type: "button", class: "danger" }, "Continue");
    next.addEventListener("click", () => confirmRemoval(user, plan, area));
    panel.append(h("div", { class: "actions" }, next, h("button", { type: "button", onclick: () => area.replaceChildren() }, "Cancel")));
    area.replaceChildren(panel);
    heading.focus();
    return;
  }
  panel.append(h("h3", {}, "What blocks it"),
    h("ul", { class: "blockers" }, plan.blockers.map((b) => h("li", { "data-code": String(b.code) },
      h("span", {}, `${describe(b).replace(/\.$/, "")} (code ${b.code}). `), fixFor(b.code, user, area)))),
    h("div", { class: "actions" }, h("button", { type: "button", onclick: () => dryRun(user, area) }, "Check again"),
      h("button", { type: "button", onclick: () => area.replaceChildren() }, "Cancel")));
  area.replaceChildren(panel);
  heading.focus();
}

/** The action that clears one blocker, then checks again. */
function fixFor(code, user, area) {
  const fixes = {
    5054: ["Deactivate the active devices", async () => {
      const d = await api("GET", `${userBase(user.id)}/devices`);
      if (!d.ok) return d;
      for (const dev of d.data.filter((x) => x.enrolmentInfo?.status === "ACTIVE")) {
        const r = await api("PATCH", `${userBase(user.id)}/devices/${encodeURIComponent(dev.id)}`, { body: { status: "INACTIVE" } });
        if (!r.ok) return r;
      }
      return { ok: true };
    }],
    5060: ["Export the user's data", () => exportUser(user)],
    5055: ["Revoke the pending enrollment tokens", async () => {
      const t = await api("GET", `${userBase(user.id)}/enrollment-tokens`);
      if (!t.ok) return t;
      for (const tok of t.data.filter((x) => x.status === "pending")) {
        const r = await api("DELETE", `${userBase(user.id)}/enrollment-tokens/${encodeURIComponent(tok.id)}`);
        if (!r.ok) return r;
      }
      return { ok: true };
    }],
  };
  if (code === 5059) {
    // Lifting a hold is deliberate: shown with the hold itself, never one click away here.
    const show = h("button", { type: "button" }, "Show the legal hold");
    show.addEventListener("click", () => document.getElementById("hold")?.scrollIntoView({ block: "center" }));
    return show;
  }
  const fix = fixes[code];
  if (!fix) return h("span", { class: "muted" }, "Clear it through the API, then check again.");
  const button = h("button", { type: "button" }, fix[0]);
  button.addEventListener("click", async () => {
    busy(button, true);
    const r = await fix[1]();
    busy(button, false);
    if (!r.ok) return showApiError(r, { what: "this user" });
    await dryRun(user, area);
    say(r.said ?? `${fix[0]}: done.`);
    refreshLists(user);
  });
  return button;
}

/** Reloads the devices and enrollment tokens tables after a fix. */
async function refreshLists(user) {
  const [devices, tokens] = await Promise.all([api("GET", `${userBase(user.id)}/devices`), api("GET", `${userBase(user.id)}/enrollment-tokens`)]);
  if (devices.ok) document.getElementById("devices")?.replaceChildren(devices.data.length
    ? table(["Name", "Type", "Identifier", "Ownership", "Status"], devices.data.map((d) => h("tr", {},
      cell("Name", d.name), cell("Type", d.type), cell("Identifier", d.deviceIdentifier),
      cell("Ownership", d.enrolmentInfo?.ownership ?? "—"), cell("Status", badge(d.enrolmentInfo?.status ?? "—")))), "Devices")
    : h("p", { class: "muted" }, "No devices."));
  if (tokens.ok) document.getElementById("enrollment-tokens")?.replaceChildren(tokens.data.length
    ? table(["Id", "Status", "Expires"], tokens.data.map((t) => h("tr", {},
      cell("Id", h("code", {}, t.id)), cell("Status", badge(t.status)), cell("Expires", when(t.expiresAt)))), "Enrollment tokens")
    : h("p", { class: "muted" }, "No enrollment tokens."));
}

/** Step 2: an explicit confirmation naming the user. */
function confirmRemoval(user, plan, area) {
  const heading = h("h2", { tabindex: "-1" }, `Really remove ${user.username}?`);
  const yes = h("button", { type: "button", class: "danger", id: "confirm-remove" }, `Yes, remove ${user.username}`);
  const no = h("button", { type: "button", onclick: () => area.replaceChildren() }, "Cancel");
  area.replaceChildren(h("div", { class: "panel danger", id: "confirm" }, heading,
    h("p", {}, plan.mode === "soft"
      ? `${user.username} (${user.email ?? "no email"}) will be removed; it can be restored until the organization's restore window ends.`
      : `${user.username} (${user.email ?? "no email"}) will be removed permanently, with everything listed above. This cannot be undone.`),
    h("div", { class: "actions" }, yes, no)));
  heading.focus();
  yes.addEventListener("click", async () => {
    busy(yes, true);
    // respond-async: a user with many dependents answers 202 with an operation, whose
    // progress the page shows while polling it (each poll advances the removal).
    const r = await api("DELETE", userBase(user.id), { prefer: "respond-async" });
    if (!r.ok) { busy(yes, false); return showApiError(r, { what: "this user" }); }
    if (r.data.operationId) return progress(user, r.data.operationId, area);
    removed(user, r.data, area);
  });
}

/**
 * An asynchronous removal: a progress bar until it finishes. Each GET of the operation
 * advances it by one batch; a token without mdm.global.operation.read (403) drives it
 * instead by repeating the DELETE, which advances it the same way and answers 202 with
 * the counts until the last batch (200).
 */
async function progress(user, operationId, area) {
  const bar = h("progress", { max: "1", value: "0", "aria-label": `Removal of ${user.username}` });
  const text = h("p", { role: "status" }, "Starting…");
  area.replaceChildren(h("div", { class: "panel", id: "progress" }, h("h2", {}, `Removing ${user.username}`), bar, text));
  let byDelete = false;
  for (;;) {
    let step;
    if (!byDelete) {
      const op = await api("GET", `${orgBase()}/operations/${encodeURIComponent(operationId)}`);
      if (op.status === 403) { byDelete = true; continue; }
      if (!op.ok) return showApiError(op, { what: "the removal operation" });
      if (op.data.status === "Succeeded") return removed(user, { restorable: op.data.mode === "soft" }, area);
      step = op.data;
    } else {
      const r = await api("DELETE", userBase(user.id), { prefer: "respond-async" });
      if (!r.ok) return showApiError(r, { what: "this user" });
      if (r.status !== 202) return removed(user, r.data, area);
      step = r.data;
    }
    bar.max = Math.max(step.total, 1);
    bar.value = step.processed;
    text.textContent = `${step.processed} of ${step.total} removed.`;
    await new Promise((res) => setTimeout(res, 500));
  }
}

/** Step 3: the result. A soft removal offers its Restore button and deadline. */
async function removed(user, data, area) {
  const heading = h("h2", { tabindex: "-1" }, `${user.username} was removed`);
  const panel = h("div", { class: "panel ok", id: "removed" }, heading);
  if (data.restorable) {
    let gone = null;
    for (const q of [`&q=${encodeURIComponent(user.username)}`, ""]) {
      const list = await api("GET", `${orgBase()}/mdm/users?status=deleted&limit=200${q}`);
      gone = list.ok ? list.data.users.find((u) => u.id === user.id) : null;
      if (gone) break;
    }
    panel.append(h("p", {}, `It can be restored until ${when(gone?.restorableUntil)}.`),
      h("div", { class: "actions" }, restoreControls(gone ?? user, false)));
  } else {
    panel.append(h("p", {}, "The removal is permanent."));
  }
  panel.append(h("p", {}, h("a", { href: "#/users" }, "Back to the users")));
  area.replaceChildren(panel);
  for (const b of document.querySelectorAll("#main > .actions button, #main form button")) b.disabled = true;
  document.getElementById("user-status")?.replaceChildren(badge(data.restorable ? "deleted" : "removed"));
  say(`${user.username} was removed.`);
  heading.focus();
}

// ---------------------------------------------------------------- audit

function auditTable(events, empty) {
  if (!events.length) return h("p", { class: "muted" }, empty);
  return table(["#", "When", "Action", "Surface", "Actor", "Subject", "Details"], events.map((e) => h("tr", {},
    cell("#", String(e.number)), cell("When", when(e.at)), cell("Action", e.action), cell("Surface", e.surface),
    cell("Actor", h("code", {}, e.actor)), cell("Subject", h("code", {}, e.subject)),
    cell("Details", e.details ? Object.entries(e.details).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ") : "—"))), "Audit events");
}

async function audit(params) {
  const cursor = params.get("cursor") ?? "";
  const qs = new URLSearchParams({ limit: "50" });
  if (cursor) qs.set("cursor", cursor);
  page("Audit", h("p", { class: "muted" }, "Loading…"));
  const r = await api("GET", `${orgBase()}/audit?${qs}`);
  if (!r.ok) return showApiError(r);
  const pager = h("div", { class: "actions" });
  if (cursor) pager.append(h("a", { href: "#/audit" }, "First page"));
  if (r.data.nextCursor) pager.append(h("a", { href: `#/audit?cursor=${encodeURIComponent(r.data.nextCursor)}` }, "Next page"));
  page("Audit", h("p", {}, "Removals, purges and restores in this organization, oldest first. Subjects are pseudonyms: no event holds a name or address."),
    auditTable(r.data.events, "No audit events yet."), pager);
}

render();
