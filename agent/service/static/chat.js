// Kindred's web chat: a client of the public HTTP API, nothing more.
// Every text from the server or the user is set with textContent (never innerHTML).
"use strict";

const config = JSON.parse(document.body.dataset.config);
const $ = (id) => document.getElementById(id);
const state = { conversation: "default", busy: false };

function user() { return $("user").value.trim() || "me"; }
function base() { return "/v1/users/" + encodeURIComponent(user()); }

function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  const key = $("key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function status(text) { $("status").textContent = text; }

async function api(path, options = {}) {
  const response = await fetch(base() + path, {
    ...options, headers: headers(options.body !== undefined),
  });
  if (response.status === 204) return null;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.detail || response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function button(label, onClick, title) {
  const b = el("button", label);
  b.type = "button";
  if (title) b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

function addMessage(role, text) {
  const li = el("li", text, role);
  $("messages").appendChild(li);
  li.scrollIntoView({ block: "end" });
  return li;
}

// ---------------------------------------------------------------- conversations
async function loadConversations() {
  let list = [];
  try { list = await api("/conversations"); } catch (e) { status(e.message); }
  if (!list.some((c) => c.id === "default")) {
    list.push({ id: "default", title: "Conversation" });
  }
  const ul = $("conversations");
  ul.replaceChildren();
  for (const c of list) {
    const li = el("li", c.title);
    li.dataset.id = c.id;
    li.title = c.id;
    if (c.id === state.conversation) li.classList.add("active");
    li.addEventListener("click", () => selectConversation(c.id));
    li.addEventListener("dblclick", () => renameConversation(c));
    ul.appendChild(li);
  }
}

async function selectConversation(id) {
  state.conversation = id;
  await loadConversations();
  await loadHistory();
}

async function renameConversation(c) {
  const title = window.prompt("Rename the conversation", c.title);
  if (!title) return;
  await api("/conversations/" + encodeURIComponent(c.id), {
    method: "PATCH", body: JSON.stringify({ title }) });
  await loadConversations();
}

async function newConversation() {
  const c = await api("/conversations", { method: "POST", body: JSON.stringify({}) });
  await selectConversation(c.id);
}

async function loadHistory() {
  $("messages").replaceChildren();
  delete $("messages").dataset.conversation;
  let turns = [];
  try {
    turns = await api("/memory/items?kind=turn&conversation=" +
                      encodeURIComponent(state.conversation));
  } catch (e) { if (e.status !== 404) status(e.message); }
  for (const t of turns) addMessage(t.fields.role, t.text);
  $("messages").dataset.conversation = state.conversation;
}

// ---------------------------------------------------------------- the turn
async function send(text) {
  state.busy = true;
  $("send").disabled = true;
  addMessage("user", text);
  const bubble = addMessage("agent", "…");
  let shown = "";
  try {
    const response = await fetch(base() + "/chat/stream", {
      method: "POST", headers: headers(true),
      body: JSON.stringify({ text, conversation: state.conversation }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.detail || response.statusText);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, cut).trim();
        buffer = buffer.slice(cut + 1);
        if (!line) continue;
        const item = JSON.parse(line);
        if (item.token !== undefined) { shown += item.token; bubble.textContent = shown; }
        else if (item.retract) { shown = ""; bubble.textContent = "…"; }
        else if (item.reply) { bubble.textContent = item.reply.text; }
        else if (item.error) { throw new Error(item.error.detail); }
      }
    }
    status("");
  } catch (e) {
    bubble.className = "error";
    bubble.textContent = e.message;
  } finally {
    state.busy = false;
    $("send").disabled = false;
  }
  await Promise.all([loadPanel(), loadConversations()]);
}

// ---------------------------------------------------------------- the panel
function emptyList(ul) { ul.replaceChildren(el("li", "Nothing yet.", "empty")); }

async function loadPanel() {
  let traits = [], view = null;
  try {
    [traits, view] = await Promise.all([
      api("/persona?history=true"),
      api("/memories?conversation=" + encodeURIComponent(state.conversation)),
    ]);
  } catch (e) {
    if (e.status !== 404) status(e.message);  // 404: nothing remembered yet
  }
  renderTraits(traits);
  renderEvents(view ? view.events : []);
  renderCorrections(view ? view.feedback : []);
  $("panel").dataset.updated = String(Date.now());
}

function renderTraits(traits) {
  const ul = $("traits");
  const active = traits.filter((t) => t.status === "active");
  if (!active.length) return emptyList(ul);
  ul.replaceChildren();
  for (const t of active) {
    const li = el("li");
    li.dataset.id = t.id;
    const text = el("span", t.text, "text");
    const tools = el("span", undefined, "tools");
    tools.append(button("edit", () => editTrait(li, t), "Correct this"),
                 button("×", () => deleteTrait(t), "Delete this"));
    li.append(tools, text);
    // the history: the wordings this trait replaced
    let older = traits.find((o) => o.superseded_by === t.id);
    while (older) {
      li.appendChild(el("span", older.text, "history"));
      const id = older.id;
      older = traits.find((o) => o.superseded_by === id);
    }
    ul.appendChild(li);
  }
}

function editTrait(li, trait) {
  const input = el("input");
  input.value = trait.text;
  input.className = "edit";
  const save = button("save", async () => {
    await api("/persona/" + encodeURIComponent(trait.id), {
      method: "PUT", body: JSON.stringify({ text: input.value }) });
    await loadPanel();
  });
  li.replaceChildren(input, save);
  input.focus();
}

async function deleteTrait(trait) {
  await api("/persona/" + encodeURIComponent(trait.id), { method: "DELETE" });
  await loadPanel();
}

function renderEvents(events) {
  const ul = $("events");
  if (!events.length) return emptyList(ul);
  ul.replaceChildren(...events.slice(-5).reverse().map((e) => el("li", e.summary)));
}

function renderCorrections(feedback) {
  const ul = $("corrections");
  if (!feedback.length) return emptyList(ul);
  ul.replaceChildren(...feedback.map((f) => el("li", f.request + " → " + f.feedback)));
}

// ---------------------------------------------------------------- actions
function correctLast() {
  const bar = document.querySelector(".actions");
  if ($("correction")) return $("correction").focus();
  const input = el("input");
  input.id = "correction";
  input.placeholder = "What should I have said?";
  const save = button("Save correction", async () => {
    try {
      await api("/feedback", { method: "POST",
        body: JSON.stringify({ text: input.value, conversation: state.conversation }) });
      status("Correction saved.");
    } catch (e) { status(e.message); }
    input.remove(); save.remove();
    await loadPanel();
  });
  save.id = "save-correction";
  bar.append(input, save);
  input.focus();
}

async function endSession() {
  try {
    await api("/end_session", { method: "POST",
      body: JSON.stringify({ conversation: state.conversation }) });
  } catch (e) { status(e.message); }
  await loadPanel();
}

async function forgetAll() {
  if (!window.confirm("Forget everything " + config.agent + " remembers about " + user() + "?")) return;
  await api("", { method: "DELETE" });
  state.conversation = "default";
  $("messages").replaceChildren();
  await Promise.all([loadPanel(), loadConversations()]);
  status("Forgotten.");
}

async function switchUser() {
  localStorage.setItem("kindred.user", user());
  state.conversation = "default";
  await Promise.all([loadConversations(), loadHistory(), loadPanel()]);
}

// ---------------------------------------------------------------- start
$("user").value = localStorage.getItem("kindred.user") || "me";
if (config.needsKey) {
  $("key-label").hidden = false;
  $("key").value = localStorage.getItem("kindred.key") || "";
  $("key").addEventListener("change", () => {
    localStorage.setItem("kindred.key", $("key").value.trim());
    switchUser();
  });
}
$("user").addEventListener("change", switchUser);
$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("message").value.trim();
  if (!text || state.busy) return;
  $("message").value = "";
  send(text);
});
$("new-conversation").addEventListener("click", newConversation);
$("correct-last").addEventListener("click", correctLast);
$("end-session").addEventListener("click", endSession);
$("forget").addEventListener("click", forgetAll);
switchUser();
