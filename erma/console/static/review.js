// The town reviewer's pages: the town's review queue (oldest first) and one case with the decision
// form (approve / return with the one-time deficiency list / reject). Every rule stays on the
// platform: the page shows what the API answers, and the API's own Chinese messages next to the field.
"use strict";

(function () {
  const { api, errorMessage, el, chinaTime } = window.Erma;
  const Erma = window.Erma;
  const $ = (id) => document.getElementById(id);
  const DONE_KEY = "erma-review-done";
  const QUEUE_EVERY_MS = 30000;

  const when = (iso) => chinaTime(iso);  // China time whatever the device's zone

  // "已等 …" in whole hours and days: a queue is read in days, not seconds.
  function waited(hours) {
    if (hours < 1) return "不到 1 小时";
    const whole = Math.floor(hours);
    if (whole < 24) return whole + " 小时";
    return Math.floor(whole / 24) + " 天" + (whole % 24 ? " " + (whole % 24) + " 小时" : "");
  }

  // ------------------------------------------------------------------ the queue

  function queuePage(root) {
    const town = root.dataset.town;

    function showDone() {
      let done = null;
      try {
        done = JSON.parse(sessionStorage.getItem(DONE_KEY) || "null");
      } catch (e) {
        done = null;
      }
      sessionStorage.removeItem(DONE_KEY);
      if (!done || !done.text) return;
      const box = $("done");
      box.replaceChildren(el("strong", {}, done.title), el("span", {}, done.text));
      box.hidden = false;
      box.focus();
    }

    function queueItem(c) {
      const who = [c.applicant_name, c.id_number, c.hukou_village].filter(Boolean).join(" · ");
      const missing = c.materials_missing && c.materials_missing.length
        ? el("span", { class: "qi-missing" }, "登记缺 " + c.materials_missing.length + " 项材料") : null;
      const link = el("a", { class: "queue-item", href: "/staff/review/cases/" + encodeURIComponent(c.case_no),
                             "data-case-no": c.case_no },
        el("span", { class: "qi-top" }, el("strong", { class: "qi-no" }, c.case_no),
           el("span", { class: "age", title: "提交审核时间 " + when(c.waiting_since) }, "已等 " + waited(c.age_hours))),
        el("span", { class: "qi-service" }, c.service_name),
        el("span", { class: "qi-who" }, "申请人 " + who),
        el("span", { class: "qi-due" }, "承诺办结日期 ", el("strong", {}, c.expected_completion_date), missing ? "　" : "", missing));
      return el("li", {}, link);
    }

    let shown = Erma.PAGE;  // "更多" opens the next page; a refresh keeps what is open

    async function refresh() {
      const button = $("refresh");
      button.disabled = true;
      const r = await Erma.pages("/api/v1/towns/" + encodeURIComponent(town) + "/review-queue", shown);
      button.disabled = false;
      if (!r.ok) {
        $("queue-error").textContent = errorMessage(r);
        if ($("queue-summary").textContent === "正在读取…") $("queue-summary").textContent = "";
        return;
      }
      $("queue-error").textContent = "";
      const items = r.data.items;
      $("queue-summary").replaceChildren("待审核 ", el("strong", { id: "queue-count" }, String(r.data.total)),
                                         " 件，最早提交的排在最前");
      const more = Erma.moreButton(r.data.next_offset, () => { shown = items.length + Erma.PAGE; refresh(); });
      $("queue").replaceChildren(...(items.length ? items.map(queueItem)
        : [el("li", { class: "empty" }, "现在没有待审核的办件")]), ...(more ? [more] : []));
    }

    const picker = $("town");
    if (picker) picker.addEventListener("change", () => picker.form.submit());
    $("refresh").addEventListener("click", refresh);
    showDone();
    refresh();
    setInterval(refresh, QUEUE_EVERY_MS);
  }

  // ------------------------------------------------------------------ one case

  const CHANNEL = { web_chat: "网页聊天", wechat: "微信公众号", counter: "窗口", agent: "代办员代录" };
  const EVENT_KIND = { assigned: "分派代办员", deficiency_notice: "补正通知", visit: "群众跑动", deferral: "容缺",
                       followup: "回访" };
  const DEFERRAL_STATUS = { open: "后补中", supplied: "已补齐，待收回一表一书", closed: "已补齐并收回一表一书",
                            overdue: "已超期" };
  const SUBMIT_TEXT = { approve: "确认审核通过", approve_deferral: "确认同意容缺，先行办理", return: "退回补正并告知居民",
                        reject: "确认不予受理" };
  const OPINION_LABEL = { approve: "审核意见", approve_deferral: "审核意见（可不填）", return: "审核意见（退回的理由）",
                          reject: "不予受理的理由" };
  const STATUS_MARK = { received: "✓", missing: "✗" };

  function casePage(root) {
    const caseNo = root.dataset.caseNo;
    const town = root.dataset.town;
    const path = "/api/v1/cases/" + encodeURIComponent(caseNo);
    let theCase = null;
    let file = null;
    let sending = false;

    function fact(dl, term, ...value) {
      dl.append(el("dt", {}, term), el("dd", {}, ...value));
    }

    function renderCase(c) {
      theCase = c;
      $("c-service").textContent = c.service_name;
      $("c-stage").textContent = c.stage_text;
      $("c-stage").className = "stage-tag stage-" + c.stage;
      document.title = "审核 " + c.case_no + " " + c.service_name + " · 尔玛云工作台";
      const dl = $("facts");
      dl.replaceChildren();
      fact(dl, "申请人", el("strong", { id: "c-applicant" }, c.applicant_name));
      fact(dl, "身份证号", el("span", { id: "c-id" }, c.id_number));
      fact(dl, "手机号码", c.phone);
      fact(dl, "户籍地", c.hukou_town.name + (c.hukou_village ? " " + c.hukou_village : ""));
      if (c.current_location) fact(dl, "现在住在", c.current_location);
      fact(dl, "接件点", el("span", { id: "c-intake" }, c.intake_point.name));
      fact(dl, "渠道", CHANNEL[c.channel] || c.channel);
      if (c.agent) fact(dl, "代办员", c.agent.name + (c.agent.credential_no ? "（" + c.agent.credential_no + "）" : ""));
      fact(dl, "提交时间", when(c.created_at));
      fact(dl, "承诺办结日期", el("strong", { id: "c-due" }, c.expected_completion_date + (c.expected_completion_provisional ? "（暂定）" : "")));
      fact(dl, "群众跑动", el("span", { id: "c-visits" }, c.visits + " 次"));
      fact(dl, "当前进度", c.next_step);
    }

    // Where and for what the resident came in person (the review file's trip records).
    function renderVisits(visits) {
      const list = $("visits");
      list.hidden = !(visits && visits.length);
      list.replaceChildren(...(visits || []).map((v) => el("li", {},
        el("time", { datetime: v.at }, when(v.at)), " ", v.purpose_text, "（", v.place, "）",
        v.note ? "，" + v.note : "")));
    }

    function materialLabel(m) {
      const bits = [m.form + (m.count > 1 ? " " + m.count + " 份" : "")];
      if (!m.required) bits.push("视情况提供");
      if (m.deferrable) bits.push("可容缺");
      return m.name + "（" + bits.join("，") + "）";
    }

    // One receipt: when (China time), where, by whom, original or copy, and on which occasion.
    function receiptLine(r) {
      return el("li", { class: "receipt" }, el("time", { datetime: r.at }, when(r.at)),
        " · ", r.place, " · ", r.by, " · ", el("strong", {}, r.form_text),
        r.occasion_text ? " · " + r.occasion_text : "");
    }

    function statusText(m) {
      const mark = STATUS_MARK[m.status];
      return mark && !m.status_text.startsWith(mark) ? mark + " " + m.status_text : m.status_text;
    }

    function checkRow(m) {
      const receipts = m.status === "received" && m.receipts && m.receipts.length
        ? el("ul", { class: "receipts" }, ...m.receipts.map(receiptLine)) : null;
      return el("li", { class: "check-row status-" + m.status + (m.can_defer ? " can-defer" : ""),
                        "data-material": m.name },
        el("span", { class: "mat-name" }, materialLabel(m), m.note ? el("small", { class: "mat-note" }, m.note) : null,
           receipts),
        el("span", { class: "mat-side" }, el("span", { class: "mat-status" }, statusText(m)),
           m.can_defer ? el("span", { class: "mat-defer" }, "可容缺后补") : null));
    }

    function renderChecklist(f) {
      $("checklist").replaceChildren(...f.checklist.map(checkRow));
      const other = $("other-missing");
      other.hidden = !f.other_missing.length;
      other.textContent = f.other_missing.length ? "此前补正清单里的其他内容：" + f.other_missing.join("；") : "";
    }

    function renderDeferral(d) {
      $("deferral-card").hidden = !d;
      if (!d) return;
      const dl = $("deferral");
      dl.replaceChildren();
      fact(dl, "一表一书编号", d.form_no + " / " + d.pledge_no);
      fact(dl, "暂缺材料", d.missing_materials.join("、"));
      fact(dl, "补齐期限", d.deadline + (d.deadline_provisional ? "（暂定）" : ""));
      fact(dl, "状态", DEFERRAL_STATUS[d.status] || d.status);
      if (d.supplied_at) fact(dl, "补齐时间", when(d.supplied_at));
      if (d.reclaimed_at) fact(dl, "收回一表一书", when(d.reclaimed_at));
    }

    function renderOpinions(f) {
      const rows = [];
      for (const o of f.opinions) {
        rows.push(el("li", { class: "opinion decision-" + o.decision },
          el("div", { class: "op-head" }, el("strong", {}, o.decision_text), " ", o.reviewer || "", " ",
             el("time", { datetime: o.at }, when(o.at))),
          el("div", { class: "op-text" }, o.opinion)));
      }
      for (const n of f.deficiency_notices) {
        rows.push(el("li", { class: "opinion notice-row" + (n.is_repeat ? " repeat" : "") },
          el("div", { class: "op-head" }, el("strong", {}, "第 " + n.seq + " 次补正清单"),
             n.is_repeat ? el("span", { class: "tag tag-bad" }, "非一次性告知") : " （一次性告知）", " ",
             el("time", { datetime: n.at }, when(n.at))),
          el("ol", { class: "op-list" }, ...n.materials.map((m) => el("li", {}, m)))));
      }
      $("opinions").replaceChildren(...(rows.length ? rows : [el("li", { class: "empty" }, "还没有审核意见")]));
    }

    function renderHistory(items) {
      $("history").replaceChildren(...items.map((e) => {
        const what = e.kind === "transition" ? (e.from_text ? e.from_text + " → " : "") + e.to_text
          : EVENT_KIND[e.kind] || e.kind;
        return el("li", {},
          el("div", { class: "h-head" }, el("time", { datetime: e.at }, when(e.at)), " ", e.actor_name || e.actor),
          el("div", { class: "h-what" }, what),
          e.note ? el("div", { class: "h-note" }, e.note) : null);
      }));
    }

    // Why 审核通过 is not offered (a material is missing), shown above the choices.
    function renderBlocked(f) {
      const blocked = $("approve-blocked");
      blocked.textContent = f.approve_blocked_reason || "";
      blocked.hidden = !f.approve_blocked_reason || !f.decisions.length;
      blocked.classList.toggle("deferrable-only", !(f.core_gap || []).length);
    }

    function deficiencyRow(m, suggested) {
      // A deferrable material of a 容缺 item may follow later: listed as 容缺, never pre-ticked as required.
      const flag = m.can_defer ? el("em", { class: "flag flag-defer" }, " 容缺，可后补，非必须")
        : suggested ? el("em", { class: "flag" }, " 现在缺") : null;
      return el("label", { class: "check" + (m.can_defer ? " defer" : "") },
        el("input", { type: "checkbox", name: "deficiencies", value: m.name, "data-status": m.status,
                      "data-suggested": suggested ? "1" : null, "data-can-defer": m.can_defer ? "1" : null }),
        el("span", {}, materialLabel(m), flag));
    }

    // Built once, and again only when the offered decisions change (say after a refused approval);
    // what the reviewer chose, ticked or typed is kept.
    function renderDecisions(f) {
      const closed = $("decide-closed");
      const form = $("decide-form");
      renderBlocked(f);
      if (!f.decisions.length) {
        closed.textContent = f.decision_closed_reason || "现在不能审核";
        closed.hidden = false;
        form.hidden = true;
        return;
      }
      closed.hidden = true;
      const key = f.decisions.map((d) => d.decision + ":" + d.text).join("|");
      if (form.dataset.built === key) return;
      const before = form.dataset.built;
      form.dataset.built = key;
      const picked = (form.querySelector('input[name="decision"]:checked') || {}).value;
      const ticked = new Set([...form.querySelectorAll('input[name="deficiencies"]:checked')].map((i) => i.value));
      const still = f.decisions.some((d) => d.decision === picked) ? picked : "";
      $("choices").replaceChildren(...f.decisions.map((d) => el("label", { class: "choice choice-" + d.decision },
        el("input", { type: "radio", name: "decision", value: d.decision, checked: d.decision === still || null }),
        el("span", {}, d.text))));
      const suggested = new Set(f.suggested_deficiencies || []);
      $("deficiency-list").replaceChildren(...f.checklist.map((m) => deficiencyRow(m, suggested.has(m.name))));
      for (const box of form.querySelectorAll('input[name="deficiencies"]')) box.checked = ticked.has(box.value);
      for (const radio of form.querySelectorAll('input[name="decision"]')) {
        radio.addEventListener("change", () => chosen(radio.value, true));
      }
      form.hidden = false;
      if (before && picked && !still) $("choices").focus();
      chosen(still, false);
    }

    let preTicked = false;
    function chosen(decision, byHand) {
      $("deficiency-box").hidden = decision !== "return";
      $("opinion-label").textContent = OPINION_LABEL[decision] || "审核意见";
      $("decide-submit").textContent = SUBMIT_TEXT[decision] || "提交审核结论";
      // Returning starts from what the platform suggests (missing and not deferrable); the reviewer adds or removes.
      if (decision === "return" && byHand && !preTicked) {
        preTicked = true;
        const suggested = document.querySelectorAll('input[name="deficiencies"][data-suggested="1"]');
        for (const box of suggested) box.checked = true;
      }
    }

    function clearErrors() {
      for (const p of root.querySelectorAll("[data-error-for]")) p.textContent = "";
    }

    function showError(r) {
      const error = (r.data && r.data.error) || {};
      const errors = error.errors && error.errors.length ? error.errors : [error];
      for (const e of errors) {
        const slot = root.querySelector(`[data-error-for="${e.field}"]`) || root.querySelector('[data-error-for="_form"]');
        const message = e.message || errorMessage(r);
        slot.textContent = slot.textContent ? slot.textContent + "；" + message : message;
      }
      const field = errors[0] && errors[0].field;
      const target = field === "deficiencies" ? $("deficiency-box") : field === "opinion" ? $("opinion")
        : field === "decision" || r.status === 409 ? $("choices") : null;
      if (target) {
        target.scrollIntoView({ block: "center" });
        if (target.focus) target.focus({ preventScroll: true });
      }
    }

    async function submit(event) {
      event.preventDefault();
      if (sending) return;
      const form = $("decide-form");
      clearErrors();
      const picked = form.querySelector('input[name="decision"]:checked');
      const decision = picked ? picked.value : "";
      const body = { decision, opinion: $("opinion").value.trim() || null, deficiencies: [] };
      if (decision === "return") {
        body.deficiencies = [...form.querySelectorAll('input[name="deficiencies"]:checked')].map((i) => i.value)
          .concat($("deficiency-extra").value.split("\n").map((line) => line.trim()).filter(Boolean));
      }
      sending = true;
      const button = $("decide-submit");
      button.disabled = true;
      const r = await api("POST", path + "/review", body);
      sending = false;
      button.disabled = false;
      if (!r.ok) {
        showError(r);
        if (r.status === 409) load();  // decided meanwhile elsewhere: show where the case stands now
        return;
      }
      const text = (file.decisions.find((d) => d.decision === decision) || {}).text || r.data.stage;
      let detail = "审核意见已保存，将推送给居民。";
      const notice = r.data.deficiency_notice;
      if (notice) {
        detail = "一次性补正清单共 " + notice.materials.length + " 项：" + notice.materials.join("、") + "。" + detail
          + (notice.is_repeat ? "（这是第 " + notice.seq + " 次补正通知，会计为非一次性告知。）" : "");
      }
      sessionStorage.setItem(DONE_KEY, JSON.stringify({
        title: "办件 " + r.data.case_no + (theCase ? "（" + theCase.service_name + "）" : "") + "：" + text + "。",
        text: detail,
      }));
      location.assign("/staff/review?town=" + encodeURIComponent(town));
    }

    async function load() {
      const [c, f, h] = await Promise.all([api("GET", path), api("GET", path + "/review"), api("GET", path + "/events")]);
      const failed = [c, f, h].find((r) => !r.ok);
      $("load-error").textContent = failed ? errorMessage(failed) : "";
      if (c.ok) renderCase(c.data);
      if (f.ok) {
        file = f.data;
        renderVisits(f.data.visits);
        renderChecklist(f.data);
        renderDeferral(f.data.deferral);
        renderOpinions(f.data);
        renderDecisions(f.data);
      }
      if (h.ok) renderHistory(h.data.items);
    }

    $("decide-form").addEventListener("submit", submit);
    load();
  }

  const queue = $("review-queue");
  if (queue) queuePage(queue);
  const one = $("review-case");
  if (one) casePage(one);
})();
