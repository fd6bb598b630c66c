// The agents' inbox: queued conversations of the agent's towns, my conversations, and one open
// conversation (transcript polled every 2 s, take / reply / hand back / close, the resident's cases).
// Every rule stays on the platform: this page shows what the API answers, errors included.
"use strict";

(function () {
  const { api, errorMessage, newId, el, duration, clock } = window.Erma;
  const $ = (id) => document.getElementById(id);

  const root = $("inbox");
  const me = Number(root.dataset.staffId);
  // From the page (erma/permissions.py). A duty lead sees who is waiting and for how long, not what
  // residents wrote (the platform's rule).
  const countyWide = root.dataset.countyWide === "true";
  const readsTranscripts = root.dataset.readsTranscripts === "true";

  const LIST_EVERY_MS = 5000;
  const TRANSCRIPT_EVERY_MS = 2000;
  const AUTHOR = { resident: "居民", assistant: "智能助手", agent: "代办员", system: "系统" };
  const CHANNEL = { web_chat: "网页聊天", wechat: "微信" };
  const STATE = { bot: "智能助手服务中", queued: "排队等待人工", agent: "代办员服务中", closed: "已结束" };

  let listFetchedAt = Date.now();
  let tab = "queue";
  let current = null;          // {id, conversation, lastSeq, timer, loading}
  let pendingReply = null;     // {text, id}: a reply not yet confirmed; re-sent with the same id
  let sendingReply = false;
  let caseKey = newId();       // Idempotency-Key of the case form; renewed after a case is created
  let servicesLoaded = false;
  let servicesAsked = 0;       // the latest list request wins over slower earlier ones
  const seen = JSON.parse(sessionStorage.getItem("erma-seen") || "{}");

  // ------------------------------------------------------------------ lists

  function showTab(name) {
    tab = name;
    for (const button of document.querySelectorAll("[data-tab]")) {
      button.setAttribute("aria-selected", String(button.dataset.tab === name));
    }
    $("queue-list").hidden = name !== "queue";
    $("mine-list").hidden = name !== "mine";
  }

  function townName(c) {
    return c.town ? c.town.name : "未定镇";
  }

  function listItem(c, kind) {
    const active = current && current.id === c.id;
    const lines = [el("span", { class: "item-title" }, townName(c), " · ", CHANNEL[c.channel] || c.channel)];
    if (kind === "queue") {
      lines.push(el("span", { class: "item-sub" }, c.queue_reason_text || "转人工"));
      lines.push(el("span", { class: "wait", "data-wait": String(c.wait_seconds) }, "已等 " + duration(c.wait_seconds)));
    } else {
      // New entries since this browser last showed the conversation.
      const unread = c.id in seen && c.last_seq > seen[c.id] && !active;
      lines.push(el("span", { class: "item-sub" }, c.last_resident_message_at
        ? "居民最后发言 " + clock(c.last_resident_message_at) : "居民还没有新消息"));
      if (unread) lines.push(el("span", { class: "badge" }, "有新消息"));
    }
    if (!readsTranscripts) return el("li", {}, el("div", { class: "conv-item static" }, ...lines));
    const button = el("button", { type: "button", class: "conv-item" + (active ? " active" : ""), "data-id": c.id }, ...lines);
    button.addEventListener("click", () => openConversation(c.id, true));
    return el("li", {}, button);
  }

  // Both lists come a page at a time: "更多" opens the next page, and a refresh keeps what is open.
  const shown = { queue: window.Erma.PAGE, mine: window.Erma.PAGE };

  function renderList(listId, countId, items, kind, emptyText, nextOffset) {
    const list = $(listId);
    const more = window.Erma.moreButton(nextOffset, () => { shown[kind] = items.length + window.Erma.PAGE; refreshLists(); });
    list.replaceChildren(...(items.length ? items.map((c) => listItem(c, kind)) : [el("li", { class: "empty" }, emptyText)]),
                         ...(more ? [more] : []));
    $(countId).textContent = String(items.length) + (more ? "+" : "");
  }

  async function refreshLists() {
    const [queue, mine] = await Promise.all([window.Erma.pages("/api/v1/agent/inbox", shown.queue),
                                             window.Erma.pages("/api/v1/agent/conversations?mine=1", shown.mine)]);
    listFetchedAt = Date.now();
    $("list-status").textContent = queue.ok && mine.ok ? "" : errorMessage(queue.ok ? mine : queue);
    if (queue.ok) renderList("queue-list", "queue-count", queue.data.items, "queue", "现在没有排队等待的会话", queue.data.next_offset);
    if (mine.ok) renderList("mine-list", "mine-count", mine.data.items, "mine", "您现在没有正在服务的会话", mine.data.next_offset);
  }

  function tickWaits() {
    const extra = (Date.now() - listFetchedAt) / 1000;
    for (const span of document.querySelectorAll(".wait[data-wait]")) {
      span.textContent = "已等 " + duration(Number(span.dataset.wait) + extra);
    }
    if (current && current.conversation && current.conversation.state === "queued") renderMeta(current.conversation);
  }

  // ------------------------------------------------------------------ one conversation

  function markSeen() {
    if (!current || !current.conversation) return;
    seen[current.id] = current.lastSeq;
    sessionStorage.setItem("erma-seen", JSON.stringify(seen));
  }

  function isMine(c) {
    return c.state === "agent" && c.agent && c.agent.id === me;
  }

  function renderMeta(c) {
    const parts = [];
    if (c.state === "queued" && c.queued_at) {
      parts.push((c.queue_reason_text || "转人工") + "，已等 " + duration((Date.now() - Date.parse(c.queued_at)) / 1000));
    }
    if (c.agent) parts.push("代办员：" + c.agent.name + (c.agent.credential_no ? "（" + c.agent.credential_no + "）" : "") + (c.agent.id === me ? "（我）" : ""));
    $("conv-meta").textContent = parts.join("　");
  }

  function renderConversation(c) {
    current.conversation = c;
    $("conv-title").textContent = townName(c) + " · " + (CHANNEL[c.channel] || c.channel);
    const state = $("conv-state");
    state.textContent = STATE[c.state] || c.state;
    state.className = "state state-" + c.state;
    renderMeta(c);
    const mine = isMine(c);
    $("take").hidden = c.state !== "queued";
    $("hand-back").hidden = !(c.state === "agent" && (mine || countyWide));
    $("close").hidden = c.state === "closed" || (c.state === "agent" && !mine && !countyWide);
    const text = $("reply-text");
    text.disabled = !mine;
    $("reply-send").disabled = !mine || sendingReply;
    text.placeholder = mine ? "回复居民（Ctrl+Enter 发送）"
      : c.state === "queued" ? "先点“接入”，再回复居民"
      : c.state === "agent" ? "这个会话由其他代办员服务中" : "会话不在人工服务中，不能回复";
  }

  function entryNode(e) {
    const kind = e.kind || "";
    const undeliverable = kind.includes("undeliverable") || /未能.{0,12}送达/.test(e.text);
    const push = !undeliverable && kind.includes("push");
    let label = AUTHOR[e.author] || e.author;
    if (e.author === "agent" && e.agent_staff_id === me) label += "（我）";
    const meta = el("div", { class: "entry-meta" }, el("span", { class: "author" }, label),
                    el("time", { datetime: e.at }, clock(e.at)));
    if (undeliverable) meta.append(el("span", { class: "tag tag-bad" }, "未能送达"));
    else if (push) meta.append(el("span", { class: "tag tag-push" }, "推送通知"));
    const node = el("li", { class: "entry author-" + e.author + (undeliverable ? " undeliverable" : "") + (push ? " push" : ""),
                            "data-seq": String(e.seq) }, meta, el("div", { class: "entry-text" }, e.text));
    if (e.buttons && e.buttons.length) {
      node.append(el("div", { class: "entry-buttons" }, "按钮：", e.buttons.map((b) => b.title).join(" / ")));
    }
    return node;
  }

  function appendEntries(entries) {
    const list = $("transcript");
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    let added = false;
    for (const e of entries) {
      if (list.querySelector(`[data-seq="${e.seq}"]`)) continue;
      // Entries arrive in seq order; a reply answered directly may arrive before a poll catches up.
      const later = [...list.children].find((li) => Number(li.dataset.seq) > e.seq);
      list.insertBefore(entryNode(e), later || null);
      current.lastSeq = Math.max(current.lastSeq, e.seq);
      added = true;
    }
    if (added && (nearBottom || entries.length > 1)) list.scrollTop = list.scrollHeight;
    if (added) markSeen();
  }

  async function pollTranscript() {
    if (!current) return;
    const id = current.id;
    let more = true;
    while (more && current && current.id === id) {
      const r = await api("GET", `/api/v1/conversations/${encodeURIComponent(id)}/transcript?after_seq=${current.lastSeq}`);
      if (!current || current.id !== id) return;
      if (!r.ok) {
        if (r.status === 404) {
          $("action-error").textContent = errorMessage(r);
          $("conversation").classList.add("missing");
          return "stop";
        }
        // Shown until the next poll gets through; an action's own error message is left alone.
        $("action-error").textContent = errorMessage(r);
        current.pollFailed = true;
        return;
      }
      if (current.pollFailed) {
        $("action-error").textContent = "";
        current.pollFailed = false;
      }
      renderConversation(r.data.conversation);
      appendEntries(r.data.entries);
      more = r.data.has_more;
    }
  }

  function schedulePoll() {
    if (!current) return;
    clearTimeout(current.timer);
    const id = current.id;
    current.timer = setTimeout(async () => {
      if (!current || current.id !== id) return;
      const outcome = await pollTranscript();
      if (outcome !== "stop") schedulePoll();
    }, TRANSCRIPT_EVERY_MS);
  }

  function clearErrors(scope) {
    for (const p of scope.querySelectorAll("[data-error-for]")) p.textContent = "";
  }

  async function openConversation(id, push) {
    if (current && current.id === id) {
      document.body.classList.add("viewing");
      return;
    }
    if (current) clearTimeout(current.timer);
    current = { id, conversation: null, lastSeq: 0, timer: null, pollFailed: false };
    pendingReply = null;
    $("transcript").replaceChildren();
    $("case-list").replaceChildren();
    $("reply-text").value = "";
    $("action-error").textContent = "";
    $("action-status").textContent = "";
    $("cases-status").textContent = "";
    clearErrors($("conversation"));
    $("conversation").classList.remove("missing");
    $("conversation").hidden = false;
    $("empty-hint").hidden = true;
    document.body.classList.add("viewing");
    for (const b of document.querySelectorAll(".conv-item")) b.classList.toggle("active", b.dataset.id === id);
    if (push) history.pushState({ c: id }, "", "?c=" + encodeURIComponent(id));
    const outcome = await pollTranscript();
    if (!current || current.id !== id) return;
    if (outcome === "stop") return;
    $("transcript").scrollTop = $("transcript").scrollHeight;
    loadCases();
    schedulePoll();
  }

  function closeView() {
    if (current) clearTimeout(current.timer);
    current = null;
    $("conversation").hidden = true;
    $("empty-hint").hidden = false;
    document.body.classList.remove("viewing");
    for (const b of document.querySelectorAll(".conv-item.active")) b.classList.remove("active");
  }

  async function ownerAction(button, path, question) {
    if (!current) return;
    if (question && !window.confirm(question)) return;
    const id = current.id;
    $("action-error").textContent = "";
    $("action-status").textContent = "";
    button.disabled = true;
    const r = await api("POST", `/api/v1/conversations/${encodeURIComponent(id)}/${path}`);
    button.disabled = false;
    if (!current || current.id !== id) return;
    if (!r.ok) {
      $("action-error").textContent = errorMessage(r);
    }
    await pollTranscript();   // the platform's own view of who holds it now, and its system entry
    refreshLists();
    return r.ok;
  }

  // ------------------------------------------------------------------ reply

  async function sendReply(event) {
    event.preventDefault();
    if (!current || sendingReply) return;
    const form = $("reply-form");
    clearErrors(form);
    const textarea = $("reply-text");
    const text = textarea.value.trim();
    if (!text) {
      form.querySelector('[data-error-for="text"]').textContent = "请先写好回复内容";
      return;
    }
    // Same text as a try that failed → same client_msg_id, so a message that did arrive is not doubled.
    if (!pendingReply || pendingReply.text !== text) pendingReply = { text, id: newId() };
    const id = current.id;
    sendingReply = true;
    $("reply-send").disabled = true;
    textarea.readOnly = true;
    const r = await api("POST", `/api/v1/conversations/${encodeURIComponent(id)}/reply`,
                        { text, client_msg_id: pendingReply.id });
    sendingReply = false;
    textarea.readOnly = false;
    if (!current || current.id !== id) return;
    if (r.ok) {
      pendingReply = null;
      textarea.value = "";
      appendEntries([r.data]);
      $("transcript").scrollTop = $("transcript").scrollHeight;
    } else {
      form.querySelector('[data-error-for="text"]').textContent = errorMessage(r) + "（内容还在，可以再点发送）";
    }
    if (current.conversation) renderConversation(current.conversation);
  }

  // ------------------------------------------------------------------ cases

  async function loadCases() {
    if (!current) return;
    const id = current.id;
    const r = await api("GET", `/api/v1/conversations/${encodeURIComponent(id)}/cases`);
    if (!current || current.id !== id) return;
    if (!r.ok) {
      $("cases-status").textContent = errorMessage(r);
      return;
    }
    const items = r.data.items;
    $("case-list").replaceChildren(...(items.length ? items.map(caseNode)
      : [el("li", { class: "empty" }, "这个会话还没有办件。")]));
  }

  function caseNode(c) {
    const note = el("input", { type: "text", class: "case-note", placeholder: "备注（改为“已办结”时写明办理结果）", maxlength: 500 });
    const noteError = el("p", { class: "error field-error", "data-error-for": "note" });
    const caseError = el("p", { class: "error", role: "alert" });
    const actions = el("div", { class: "case-actions" });
    for (const action of c.actions || []) {
      const button = el("button", { type: "button", "data-to": action.to }, "改为“" + action.text + "”");
      button.addEventListener("click", () => changeStage(c, action, note, noteError, caseError, button));
      actions.append(button);
    }
    if (c.can_record_visit) {
      const visit = el("button", { type: "button", class: "visit" }, "登记群众跑动一次");
      visit.addEventListener("click", () => recordVisit(c, note, noteError, caseError, visit));
      actions.append(visit);
    }
    const holder = c.holder ? (c.holder.kind === "agent" ? "代办员" + c.holder.name : c.holder.name) : "";
    const node = el("li", { class: "case", "data-case-no": c.case_no },
      el("div", { class: "case-head" }, el("strong", {}, c.case_no), " ", c.service_name),
      el("p", { class: "case-stage" }, el("span", { class: "stage" }, c.stage_text), holder ? "　经办：" + holder : ""),
      el("p", { class: "case-next" }, c.next_step),
      el("p", { class: "case-date" }, "户籍地：" + c.hukou_town + "　预计办结：" + c.expected_completion_date
        + (c.expected_completion_provisional ? "（暂定）" : "")));
    if (c.materials_missing && c.materials_missing.length) {
      node.append(el("p", { class: "case-missing" }, "还缺：" + c.materials_missing.join("、")));
    }
    if (actions.children.length) node.append(note, noteError, actions);
    node.append(caseError);
    return node;
  }

  async function changeStage(c, action, note, noteError, caseError, button) {
    if (!window.confirm(`把办件 ${c.case_no} 改为“${action.text}”？`)) return;
    noteError.textContent = "";
    caseError.textContent = "";
    button.disabled = true;
    const r = await api("POST", `/api/v1/cases/${encodeURIComponent(c.case_no)}/transitions`,
                        { to: action.to, note: note.value.trim() || null });
    button.disabled = false;
    if (!r.ok) {
      (r.data && r.data.error && r.data.error.field === "note" ? noteError : caseError).textContent = errorMessage(r);
      return;
    }
    $("cases-status").textContent = `办件 ${c.case_no} 已改为“${r.data.stage_text}”`;
    loadCases();
  }

  async function recordVisit(c, note, noteError, caseError, button) {
    noteError.textContent = "";
    caseError.textContent = "";
    button.disabled = true;
    const r = await api("POST", `/api/v1/cases/${encodeURIComponent(c.case_no)}/visits`, { note: note.value.trim() || null });
    button.disabled = false;
    if (!r.ok) {
      (r.data && r.data.error && r.data.error.field === "note" ? noteError : caseError).textContent = errorMessage(r);
      return;
    }
    note.value = "";
    $("cases-status").textContent = `办件 ${c.case_no} 已登记跑动，累计 ${r.data.visits} 次`;
  }

  // ------------------------------------------------------------------ new case form

  function serviceOptions(items, grouped) {
    const select = $("case-service");
    const keep = select.value;
    const options = [el("option", { value: "" }, "请选择事项")];
    if (grouped) {
      const groups = new Map();
      for (const item of items) {
        if (!groups.has(item.category)) groups.set(item.category, el("optgroup", { label: item.category || "其他" }));
        groups.get(item.category).append(el("option", { value: item.code }, item.code + " " + item.name));
      }
      options.push(...groups.values());
    } else {
      options.push(...items.map((item) => el("option", { value: item.code }, item.code + " " + item.name)));
    }
    select.replaceChildren(...options);
    if (keep && [...select.options].some((o) => o.value === keep)) select.value = keep;
  }

  async function loadServices() {
    if (servicesLoaded) return;
    const asked = ++servicesAsked;
    const r = await api("GET", "/api/v1/services");
    if (r.ok && asked === servicesAsked) {  // a search answered meanwhile wins
      servicesLoaded = true;
      serviceOptions(r.data.items, true);
    }
    const town = $("case-town");
    if (!town.value && current && current.conversation && current.conversation.town) town.value = current.conversation.town.name;
  }

  async function searchServices() {
    const q = $("case-search").value.trim();
    const slot = $("case-form").querySelector('[data-error-for="service_code"]');
    slot.textContent = "";
    if (!q) {
      servicesLoaded = false;
      return loadServices();
    }
    const button = $("case-search-go");
    button.disabled = true;
    button.textContent = "查找中…";
    const asked = ++servicesAsked;
    const r = await api("GET", "/api/v1/services?limit=10&q=" + encodeURIComponent(q));
    button.disabled = false;
    button.textContent = "查找";
    if (!r.ok) {
      slot.textContent = errorMessage(r);
      return;
    }
    if (asked !== servicesAsked) return;
    const items = r.data.ambiguous ? r.data.choices : r.data.items;
    if (!items.length) {
      slot.textContent = "没有找到相符的事项，换个说法试试";
      return;
    }
    servicesLoaded = false;
    serviceOptions(items, false);
    $("case-service").value = items[0].code;
    loadMaterials();
  }

  async function loadMaterials() {
    const code = $("case-service").value;
    const box = $("case-materials");
    const list = $("case-materials-list");
    if (!code) {
      box.hidden = true;
      list.replaceChildren();
      return;
    }
    const r = await api("GET", "/api/v1/services/" + encodeURIComponent(code));
    if (!r.ok || $("case-service").value !== code) return;
    list.replaceChildren(...r.data.materials.map((m) => el("label", { class: "check" },
      el("input", { type: "checkbox", name: "materials_have", value: m.name }),
      " " + m.name + (m.form ? "（" + m.form + (m.count > 1 ? " " + m.count + "份" : "") + "）" : "")
        + (m.required ? "" : "（非必需）") + (m.deferrable ? "（可容缺）" : ""))));
    box.hidden = r.data.materials.length === 0;
  }

  async function submitCase(event) {
    event.preventDefault();
    if (!current || !current.conversation) return;
    const form = $("case-form");
    clearErrors(form);
    const value = (name) => form.elements[name].value.trim();
    const body = {
      service_code: $("case-service").value,
      applicant_name: value("applicant_name"),
      id_number: value("id_number"),
      phone: value("phone"),
      hukou_town: value("hukou_town"),
      hukou_village: value("hukou_village") || null,
      current_location: value("current_location") || null,
      intake_point: "online",
      channel: current.conversation.channel,
      conversation_id: current.id,
      materials_have: [...form.querySelectorAll('input[name="materials_have"]:checked')].map((i) => i.value),
    };
    const id = current.id;
    const submit = $("case-submit");
    submit.disabled = true;
    let r = await api("POST", "/api/v1/cases", body, { "Idempotency-Key": caseKey });
    const repeat = r.data && r.data.error && r.data.error.code === "open_case_exists";
    // The applicant already has this item open: a new case only when the agent says so (some items allow it).
    if (repeat && window.confirm(r.data.error.message + "\n确实要再建一件新的吗？")) {
      r = await api("POST", "/api/v1/cases", { ...body, repeat_confirmed: true }, { "Idempotency-Key": caseKey });
    }
    submit.disabled = false;
    if (!current || current.id !== id) return;
    if (r.ok) {
      caseKey = newId();
      form.reset();
      $("case-materials").hidden = true;
      $("case-materials-list").replaceChildren();
      $("cases-status").textContent = `已为居民建立办件 ${r.data.case_no}（${r.data.stage_text}）`;
      $("new-case").open = false;
      loadCases();
      return;
    }
    const error = (r.data && r.data.error) || {};
    if (error.code === "idempotency_key_reused") caseKey = newId();
    const errors = error.errors && error.errors.length ? error.errors : [error];
    for (const e of errors) {
      const slot = form.querySelector(`[data-error-for="${e.field}"]`) || form.querySelector('[data-error-for="_form"]');
      slot.textContent = slot.textContent ? slot.textContent + "；" + (e.message || errorMessage(r)) : (e.message || errorMessage(r));
    }
    const first = errors[0] && form.querySelector(`[name="${errors[0].field}"]`);
    if (first) first.focus();
  }

  // ------------------------------------------------------------------ wiring

  for (const button of document.querySelectorAll("[data-tab]")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  $("back").addEventListener("click", () => {
    if (history.state && history.state.c) history.back();
    else {
      history.replaceState(null, "", location.pathname);
      closeView();
    }
  });
  window.addEventListener("popstate", () => {
    const id = new URLSearchParams(location.search).get("c");
    if (id) openConversation(id, false);
    else closeView();
  });
  $("take").addEventListener("click", async () => {
    if (await ownerAction($("take"), "take")) {
      $("action-status").textContent = "已接入，现在可以回复居民";
      showTab("mine");
      $("reply-text").focus();
    }
  });
  $("hand-back").addEventListener("click", async () => {
    if (await ownerAction($("hand-back"), "hand-back", "把这个会话交回智能助手？居民的下一条消息将由智能助手回答。")) {
      $("action-status").textContent = "已交回智能助手";
    }
  });
  $("close").addEventListener("click", async () => {
    if (await ownerAction($("close"), "close", "结束这个会话？")) {
      $("action-status").textContent = "会话已结束";
    }
  });
  $("reply-form").addEventListener("submit", sendReply);
  $("reply-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("reply-form").requestSubmit();
  });
  $("new-case").addEventListener("toggle", () => { if ($("new-case").open) loadServices(); });
  $("case-search-go").addEventListener("click", searchServices);
  $("case-search").addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); searchServices(); }
  });
  $("case-service").addEventListener("change", loadMaterials);
  $("case-form").addEventListener("submit", submitCase);

  refreshLists();
  setInterval(refreshLists, LIST_EVERY_MS);
  setInterval(tickWaits, 1000);
  const start = new URLSearchParams(location.search).get("c");
  if (start && readsTranscripts) openConversation(start, false);
  if (!readsTranscripts) $("empty-hint").textContent = "这里显示谁在排队、等了多久。会话内容只有会话所在镇的代办员能看。";
})();
