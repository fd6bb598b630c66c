/* The residents' web chat. Plain JavaScript, no build step, nothing loaded from elsewhere.
 *
 * - The conversation's token lives in localStorage, so a reload finds the same conversation; the
 *   transcript is read again from the start.
 * - New entries arrive by Server-Sent Events (id = seq). The browser's reconnect sends
 *   Last-Event-ID; entries may still come twice (SSE and a send's answer), so every entry is
 *   drawn once per seq.
 * - Each message gets a client_msg_id before it is sent: retrying after a network error never
 *   doubles it on the server. A failed send puts the words back in the box with a retry button.
 */
(function () {
  "use strict";

  var TOKEN_KEY = "erma.webchat.token";
  var SEND_TIMEOUT_MS = 45000;
  var HANDOFF = { title: "转人工", payload: "/request_human" };
  // Headings of the platform's notices (meta.push_kind); anything else is an "办件通知".
  var PUSH_TITLES = {
    stage_changed: "办件进度通知", approved: "审核通过通知", deficiency_notice: "补正材料通知",
    rejected: "不予受理通知", deferral_opened: "容缺办理通知", deferral_reminder: "容缺材料补交提醒",
    result: "办理结果通知", rating_request: "请您评价"
  };

  var els = {
    log: document.getElementById("log"),
    banner: document.getElementById("banner"),
    conn: document.getElementById("conn"),
    typing: document.getElementById("typing"),
    error: document.getElementById("error"),
    errorText: document.getElementById("error-text"),
    retry: document.getElementById("retry"),
    form: document.getElementById("composer"),
    text: document.getElementById("text"),
    human: document.getElementById("human"),
    starters: document.getElementById("starters")
  };

  var token = null;
  var lastSeq = 0;            // highest seq drawn
  var drawn = {};             // seq -> element
  var pending = {};           // client_msg_id -> element of a message not yet confirmed
  var failed = null;          // {text, payload, id} of the last send that did not go through
  var inFlight = 0;
  var state = null;           // {state, agent}
  var source = null;
  var reopenTimer = null;
  var connTimer = null;

  // ------------------------------------------------------------ helpers

  function newId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // China time whatever the phone's zone (the platform sends instants with an offset): "23:43" today,
  // "12月5日 23:43" on another day.
  var CHINA = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "numeric",
                                                 day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

  function chinaParts(date) {
    var parts = {};
    CHINA.formatToParts(date).forEach(function (p) { parts[p.type] = p.value; });
    return parts;
  }

  function clock(iso) {
    var d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return "";
    var p = chinaParts(d), today = chinaParts(new Date());
    var hm = p.hour + ":" + p.minute;
    if (p.year === today.year && p.month === today.month && p.day === today.day) return hm;
    return Number(p.month) + "月" + Number(p.day) + "日 " + hm;
  }

  function nearBottom() {
    var doc = document.documentElement;
    return doc.scrollHeight - (window.scrollY + window.innerHeight) < 160;
  }

  function toBottom() {
    window.scrollTo(0, document.documentElement.scrollHeight);
  }

  function agentLabel(agent) {
    if (!agent) return "代办员";
    return "代办员 " + agent.name + (agent.credential_no ? "，证号 " + agent.credential_no : "");
  }

  // fetch with a timeout; rejects with {status, message} (status 0: the network failed)
  function api(method, path, body) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, SEND_TIMEOUT_MS) : null;
    var headers = { "Accept": "application/json" };
    if (body) headers["Content-Type"] = "application/json";
    if (token) headers["Authorization"] = "Bearer " + token;
    return fetch(path, {
      method: method, headers: headers, body: body ? JSON.stringify(body) : undefined,
      cache: "no-store", credentials: "omit", signal: controller ? controller.signal : undefined
    }).then(function (r) {
      if (timer) clearTimeout(timer);
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.ok) return data;
        var message = (data && data.error && data.error.message) || "服务暂时出了点问题";
        throw { status: r.status, message: message };
      });
    }, function () {
      if (timer) clearTimeout(timer);
      throw { status: 0, message: "网络不通或太慢" };
    });
  }

  // ------------------------------------------------------------ drawing entries

  function drawButtons(container, buttons, seq) {
    var box = el("div", "buttons");
    box.setAttribute("data-after", String(seq));
    buttons.forEach(function (b) {
      var btn = el("button", "qr", b.title);
      btn.type = "button";
      btn.addEventListener("click", function () {
        if (btn.disabled) return;
        send(b.title, b.payload);
      });
      box.appendChild(btn);
    });
    container.appendChild(box);
  }

  // The assistant's answers end with the public guide's address (/services/MX-…): that one address
  // becomes a link the resident can tap; everything else stays plain text (no HTML from messages).
  var GUIDE_URL = /https?:\/\/[^\s<>"]+\/services\/MX-\d{3}/g;

  function withGuideLinks(node, text) {
    var last = 0, m;
    GUIDE_URL.lastIndex = 0;
    while ((m = GUIDE_URL.exec(text)) !== null) {
      node.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = el("a", "guide-link", m[0]);
      a.href = m[0];
      a.target = "_blank";
      a.rel = "noopener";
      node.appendChild(a);
      last = m.index + m[0].length;
    }
    node.appendChild(document.createTextNode(text.slice(last)));
    return node;
  }

  function entryNode(e) {
    var node;
    if (e.author === "system" && e.kind === "push") {
      node = el("article", "card push");
      node.appendChild(el("div", "head", PUSH_TITLES[e.push_kind] || "办件通知"));
      node.appendChild(el("div", "body", e.text));
      node.appendChild(el("div", "time", clock(e.at)));
    } else if (e.author === "system" && e.kind === "owner") {
      node = el("div", "event" + (e.to === "agent" ? " to-agent" : e.to === "bot" ? " to-bot" : ""), e.text);
      node.setAttribute("role", "note");
    } else if (e.author === "system") {
      node = el("article", "card notice");
      node.appendChild(el("div", "body", e.text));
    } else {
      node = el("div", "msg " + e.author);
      if (e.author === "assistant") node.appendChild(el("div", "who", "智能助手"));
      if (e.author === "agent") node.appendChild(el("div", "who", agentLabel(e.agent)));
      if (e.text) node.appendChild(e.author === "assistant" ? withGuideLinks(el("div", "bubble"), e.text)
                                                            : el("div", "bubble", e.text));
    }
    if (e.buttons && e.buttons.length && e.author !== "resident") drawButtons(node, e.buttons, e.seq);
    node.setAttribute("data-seq", String(e.seq));
    node.setAttribute("data-author", e.author);
    if (e.kind) node.setAttribute("data-kind", e.kind);
    return node;
  }

  // Puts a node where its seq belongs: after the drawn entries with a smaller seq, before larger
  // ones and before messages still being sent (those have no seq yet).
  function place(node, seq) {
    var children = els.log.children;
    for (var i = children.length - 1; i >= 0; i--) {
      var s = children[i].getAttribute("data-seq");
      if (s && Number(s) < seq) {
        els.log.insertBefore(node, children[i].nextSibling);
        return;
      }
    }
    els.log.insertBefore(node, els.log.querySelector("[data-seq], .pending"));
  }

  // Buttons offered before the resident's latest message are spent.
  function retireButtons(beforeSeq) {
    var boxes = els.log.querySelectorAll(".buttons");
    Array.prototype.forEach.call(boxes, function (box) {
      if (Number(box.getAttribute("data-after")) < beforeSeq) {
        Array.prototype.forEach.call(box.querySelectorAll("button"), function (b) { b.disabled = true; });
      }
    });
  }

  function addEntry(e) {
    if (!e || typeof e.seq !== "number" || drawn[e.seq]) return;
    var stick = nearBottom();
    var mine = e.author === "resident" && e.client_msg_id && pending[e.client_msg_id];
    var node;
    if (mine) {
      node = pending[e.client_msg_id];
      delete pending[e.client_msg_id];
      node.classList.remove("pending");
      var status = node.querySelector(".status");
      if (status) status.remove();
      var bubble = node.querySelector(".bubble");
      if (bubble) bubble.textContent = e.text;
      node.setAttribute("data-seq", String(e.seq));
      node.setAttribute("data-author", "resident");
      node.remove();
      place(node, e.seq);
      if (failed && failed.id === e.client_msg_id) confirmFailed();
    } else {
      node = entryNode(e);
      place(node, e.seq);
    }
    drawn[e.seq] = node;
    if (e.seq > lastSeq) lastSeq = e.seq;
    if (e.author === "resident") retireButtons(e.seq);
    if (els.starters && e.author === "resident") els.starters.hidden = true;
    if (stick || mine) toBottom();
  }

  // ------------------------------------------------------------ who is answering

  function applyState(next) {
    if (!next) return;
    // Answers to a send and the stream may arrive out of order: the newer reading wins.
    if (state && next.as_of_seq < state.as_of_seq) return;
    var before = state ? state.state : null;
    var sameAgent = JSON.stringify(state ? state.agent : null) === JSON.stringify(next.agent);
    var changed = !state || before !== next.state || !sameAgent;
    state = next;
    if (!changed) return;
    var b = els.banner;
    b.setAttribute("data-state", next.state);
    b.textContent = "";
    if (next.state === "agent") {
      b.appendChild(el("span", "who", agentLabel(next.agent)));
      b.appendChild(el("span", null, "正在为您服务，您直接发消息就行。"));
      b.hidden = false;
    } else if (next.state === "queued") {
      b.textContent = "正在为您转接人工，请稍候。代办员接入后会在这里回复您。";
      b.hidden = false;
    } else if (next.state === "closed") {
      b.textContent = "本次会话已结束。您再发消息，智能助手会继续为您服务。";
      b.hidden = false;
    } else if (before === "agent" || before === "queued") {
      b.textContent = "人工服务已结束，智能助手继续为您服务。";
      b.hidden = false;
    } else {
      b.hidden = true;
    }
    var human = next.state === "queued" || next.state === "agent";
    els.human.disabled = human;
    els.human.textContent = next.state === "agent" ? "人工服务中" : next.state === "queued" ? "等待人工" : "转人工";
    if (human) els.typing.hidden = true;
  }

  // ------------------------------------------------------------ sending

  function showError(message, canRetry) {
    els.errorText.textContent = message;
    els.retry.hidden = !canRetry;
    els.error.hidden = false;
    toBottom();
  }

  function hideError() {
    els.error.hidden = true;
  }

  // The failed message turned out to be stored after all (its entry came by the stream).
  function confirmFailed() {
    if (!failed) return;
    if (els.text.value.trim() === failed.text) els.text.value = "";
    failed = null;
    hideError();
    resizeBox();
  }

  function showTyping() {
    els.typing.hidden = !(inFlight > 0 && (!state || state.state === "bot" || state.state === "closed"));
  }

  function send(text, payload, reuseId) {
    text = (text || "").trim();
    if (!text) return;
    if (!token) {  // the conversation is not open yet (no connection so far): keep the words
      if (!payload && els.text.value.trim() !== text) els.text.value = text;
      showError("还没有连上服务器，请稍等一下再发。", false);
      return;
    }
    var id = reuseId || newId();
    if (pending[id]) return;  // this very message is being sent already
    hideError();
    var node = el("div", "msg resident pending");
    node.appendChild(el("div", "bubble", text));
    node.appendChild(el("div", "status", "发送中…"));
    pending[id] = node;
    els.log.appendChild(node);
    if (els.starters) els.starters.hidden = true;
    toBottom();
    inFlight += 1;
    showTyping();
    var body = { token: token, text: text, client_msg_id: id };
    if (payload) body.payload = payload;
    return api("POST", "/chat/api/messages", body).then(function (data) {
      inFlight -= 1;
      if (failed && failed.id === id) confirmFailed();
      addEntry(data.entry);
      (data.replies || []).forEach(addEntry);
      applyState(data.conversation);
      showTyping();
      toBottom();
    }, function (err) {
      inFlight -= 1;
      showTyping();
      if (pending[id]) {  // not confirmed by the stream meanwhile
        delete pending[id];
        node.remove();
        failed = { text: text, payload: payload || null, id: id };
        if (!payload) {
          // Nothing typed is lost: the words go back into the box.
          var now = els.text.value.trim();
          els.text.value = now && now !== text ? text + "\n" + now : text;
          resizeBox();
        }
        var retryable = err.status === 0 || err.status >= 500 || err.status === 429;
        var what = payload ? "“" + text + "”没有发出去" : "消息没有发出去，您写的话还在输入框里";
        showError(what + "（" + err.message + "）。" + (retryable ? "请点“重试”。" : ""), retryable);
      }
      if (err.status === 401 || err.status === 404) restart();
    });
  }

  function resizeBox() {
    var t = els.text;
    t.style.height = "auto";
    t.style.height = Math.min(t.scrollHeight + 4, window.innerHeight * 0.4) + "px";
  }

  // ------------------------------------------------------------ the conversation and its stream

  function loadTranscript() {
    return api("GET", "/chat/api/transcript?after_seq=" + lastSeq).then(function (data) {
      (data.entries || []).forEach(addEntry);
      applyState(data.conversation);
      if (data.has_more && data.next_after_seq > lastSeq) {
        lastSeq = data.next_after_seq;
        return loadTranscript();
      }
      return null;
    });
  }

  function openConversation() {
    token = null;
    return api("POST", "/chat/api/conversations").then(function (data) {
      token = data.token;
      try { localStorage.setItem(TOKEN_KEY, token); } catch (e) { /* private mode: this tab only */ }
      applyState(data.conversation);
    });
  }

  function openStream() {
    if (source) source.close();
    clearTimeout(reopenTimer);
    source = new EventSource("/chat/api/events?token=" + encodeURIComponent(token) + "&after_seq=" + lastSeq);
    source.addEventListener("entry", function (ev) {
      try { addEntry(JSON.parse(ev.data)); } catch (e) { /* a broken event is skipped; the next load has it */ }
    });
    source.addEventListener("state", function (ev) {
      try { applyState(JSON.parse(ev.data)); } catch (e) { /* ignored */ }
    });
    source.addEventListener("open", function () {
      clearTimeout(connTimer);
      connTimer = null;
      els.conn.hidden = true;
    });
    source.addEventListener("error", function () {
      // The server ends streams now and then and the browser reconnects at once: only a
      // connection that stays away is worth telling the resident about.
      if (!connTimer) {
        connTimer = setTimeout(function () {
          connTimer = null;
          if (!source || source.readyState !== EventSource.OPEN) els.conn.hidden = false;
        }, 4000);
      }
      // The browser retries on its own unless the server refused; then check the token and start over.
      if (source.readyState === EventSource.CLOSED) {
        reopenTimer = setTimeout(resume, 3000);
      }
    });
  }

  function resume() {
    loadTranscript().then(openStream, function (err) {
      if (err.status === 401 || err.status === 404) restart();
      else reopenTimer = setTimeout(resume, 5000);
    });
  }

  // The token is no longer valid (expired, or the conversation is gone): a new conversation.
  function restart() {
    try { localStorage.removeItem(TOKEN_KEY); } catch (e) { /* ignored */ }
    if (source) source.close();
    openConversation().then(openStream, function () {
      showError("连不上服务器，请检查网络后刷新页面。", false);
    });
  }

  function start() {
    try { token = localStorage.getItem(TOKEN_KEY); } catch (e) { token = null; }
    var ready = token ? loadTranscript().catch(function (err) {
      if (err.status === 401 || err.status === 404) return openConversation();
      throw err;
    }) : openConversation();
    ready.then(function () {
      openStream();
      toBottom();
    }, function () {
      els.conn.hidden = false;
      reopenTimer = setTimeout(function () { token ? resume() : start(); }, 5000);
    });
  }

  // ------------------------------------------------------------ wiring

  els.form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = els.text.value.trim();
    if (!text) return;
    var reuse = failed && !failed.payload && failed.text === text ? failed.id : null;
    if (!reuse) failed = null;
    els.text.value = "";
    resizeBox();
    send(text, null, reuse);
  });
  els.text.addEventListener("input", resizeBox);
  els.text.addEventListener("keydown", function (ev) {
    // Enter sends, Shift+Enter starts a new line (phone keyboards show "发送" via enterkeyhint).
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      els.form.requestSubmit ? els.form.requestSubmit() : els.form.dispatchEvent(new Event("submit"));
    }
  });
  els.retry.addEventListener("click", function () {
    if (!failed) return;
    var again = failed;
    if (!again.payload && els.text.value.trim() === again.text) els.text.value = "";
    else if (!again.payload && els.text.value.trim().indexOf(again.text) === 0) {
      els.text.value = els.text.value.trim().slice(again.text.length).trim();
    }
    resizeBox();
    send(again.text, again.payload, again.id);
  });
  els.human.addEventListener("click", function () {
    send(HANDOFF.title, HANDOFF.payload);
  });
  if (els.starters) {
    Array.prototype.forEach.call(els.starters.querySelectorAll("button"), function (b) {
      b.addEventListener("click", function () { send(b.getAttribute("data-text")); });
    });
  }
  window.addEventListener("online", function () {
    if (token && (!source || source.readyState === EventSource.CLOSED)) resume();
  });

  start();
})();
