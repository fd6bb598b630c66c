// The duty lead's page: three lists the platform computes (overdue 容缺, 差评 follow-ups due, cases
// past their promised date) and recording a follow-up's outcome. No rule lives here: which rows are
// overdue, by how much, and whether an outcome is acceptable are the platform's answers.
"use strict";

(function () {
  const { api, errorMessage, el } = window.Erma;
  const $ = (id) => document.getElementById(id);

  const LISTS = {
    deferrals: { path: "/api/v1/lead/overdue-deferrals", empty: "没有逾期未补齐的容缺件" },
    followups: { path: "/api/v1/lead/followups", empty: "没有待回访的差评" },
    cases: { path: "/api/v1/lead/overdue-cases", empty: "没有超过承诺时限未办结的办件" },
  };
  // What the lead typed or opened survives any re-rendering of the lists: task id → {open, text}.
  const drafts = new Map();
  // Rows shown per list: "更多" opens the next page, and a refresh keeps what is open.
  const shown = { deferrals: 100, followups: 100, cases: 100 };
  let today = "";
  let loading = 0;

  // ------------------------------------------------------------------ wording

  function day(iso) {
    if (!iso) return "";
    const [y, m, d] = iso.split("-").map(Number);
    const thisYear = today ? Number(today.slice(0, 4)) : y;
    return (y === thisYear ? "" : y + "年") + m + "月" + d + "日";
  }

  function badge(text, kind) {
    return el("span", { class: "days days-" + kind }, text);
  }

  function dueBadge(row) {
    if (row.days_left > 0) return badge("还剩 " + row.days_left + " 天", row.days_left <= 1 ? "soon" : "ok");
    if (row.days_left === 0) return badge("今天到期", "soon");
    return badge("已逾期 " + row.overdue_days + " 天", "late");
  }

  function facts(pairs) {
    const list = el("dl", { class: "card-facts" });
    for (const [label, value, cls] of pairs) {
      if (value === null || value === undefined || value === "") continue;
      list.append(el("dt", {}, label), el("dd", { class: cls || null }, value));
    }
    return list;
  }

  function agentText(agent) {
    if (!agent) return "未分配";
    return agent.name + (agent.credential_no ? "（" + agent.credential_no + "）" : "");
  }

  function common(row) {
    return [
      ["镇", row.town.name],
      ["申请人", row.applicant.name + (row.applicant.phone ? "　" + row.applicant.phone : "")],
      ["代办员", agentText(row.agent)],
      ["现在", row.stage_text],
    ];
  }

  // Each card opens its case on the workbench, where the lead can reassign (改派) it.
  function card(row, top, pairs, extra) {
    return el("li", { class: "lead-card", "data-case": row.case_no },
      el("div", { class: "card-top" }, top,
         el("a", { class: "case-no", href: "/staff/cases/" + encodeURIComponent(row.case_no),
                   "aria-label": "打开办件 " + row.case_no }, row.case_no + " ›")),
      el("p", { class: "card-item" }, row.service.name),
      facts(pairs), extra || null);
  }

  // ------------------------------------------------------------------ recording an outcome

  function outcomeForm(taskId, caseNo, label, placeholder) {
    const draft = drafts.get(taskId) || { open: false, text: "" };
    const inputId = "outcome-" + taskId;
    const toggle = el("button", { type: "button", class: "record", "aria-expanded": String(draft.open),
                                  "aria-controls": "form-" + taskId }, label);
    const text = el("textarea", { id: inputId, name: "outcome", rows: "3", maxlength: "2000", placeholder });
    text.value = draft.text;
    const fieldError = el("p", { class: "error field-error", "data-error-for": "outcome", role: "alert" });
    const formError = el("p", { class: "error", "data-error-for": "_form", role: "alert" });
    const submit = el("button", { type: "submit", class: "primary" }, "保存");
    const form = el("form", { id: "form-" + taskId, class: "outcome-form", novalidate: true, autocomplete: "off",
                              "data-task": String(taskId) },
      el("label", { for: inputId }, "回访结果（打了谁的电话、群众怎么说、怎么整改）"), text, fieldError, formError,
      el("div", { class: "form-actions" }, submit,
         el("button", { type: "button", class: "cancel" }, "收起")));
    form.hidden = !draft.open;

    const remember = () => drafts.set(taskId, { open: !form.hidden, text: text.value });
    text.addEventListener("input", remember);
    toggle.addEventListener("click", () => {
      form.hidden = !form.hidden;
      toggle.setAttribute("aria-expanded", String(!form.hidden));
      remember();
      if (!form.hidden) text.focus();
    });
    form.querySelector(".cancel").addEventListener("click", () => {
      form.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      remember();
      toggle.focus();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      fieldError.textContent = "";
      formError.textContent = "";
      submit.disabled = true;
      submit.textContent = "保存中…";
      const r = await api("POST", `/api/v1/followup-tasks/${encodeURIComponent(taskId)}/complete`, { outcome: text.value });
      submit.disabled = false;
      submit.textContent = "保存";
      if (!r.ok) {
        // The text stays exactly as typed; the platform's message goes next to the field.
        const error = r.data && r.data.error;
        (error && error.field === "outcome" ? fieldError : formError).textContent = errorMessage(r);
        text.focus();
        return;
      }
      drafts.delete(taskId);
      $("lead-notice").textContent = `已记录 ${caseNo} 的回访结果`;
      loadAll();
    });
    return el("div", { class: "card-record" }, toggle, form);
  }

  // ------------------------------------------------------------------ the three lists

  const RENDER = {
    deferrals(row) {
      const pairs = [
        ["补正期限", day(row.deadline), "late"],
        ["暂缺材料", row.missing_materials.join("、")],
        ...common(row),
        ["一表一书", row.form_no],
      ];
      const record = row.followup_task_id
        ? outcomeForm(row.followup_task_id, row.case_no, "记录督办结果", "如：已电话联系群众，答应3日内补交")
        : null;
      return card(row, badge("逾期 " + row.overdue_days + " 天", "late"), pairs, record);
    },
    followups(row) {
      const rating = row.rating;
      const pairs = [
        ["回访期限", day(row.due_date)],
        ["群众评价", rating ? rating.level_text + (rating.comment ? "：" + rating.comment : "") : row.reason, "rating"],
        ...common(row),
        ["差评时间", day(row.task_opened_on)],
      ];
      return card(row, dueBadge(row), pairs,
                  outcomeForm(row.task_id, row.case_no, "记录回访结果", "如：已电话回访，群众反映等待时间长，已提醒代办员"));
    },
    cases(row) {
      const pairs = [
        ["承诺办结", day(row.expected_completion_date), "late"],
        ["受理日期", day(row.opened_on) + (row.age_days > 0 ? "（已 " + row.age_days + " 天）" : "（今天）")],
        ...common(row),
      ];
      return card(row, badge("超期 " + row.overdue_days + " 天", "late"), pairs);
    },
  };

  function query() {
    const town = $("lead-town").value;
    return town ? "?town=" + encodeURIComponent(town) : "";
  }

  async function load(name) {
    const spec = LISTS[name];
    const slot = document.querySelector(`[data-list-error="${name}"]`);
    const r = await window.Erma.pages(spec.path + query(), shown[name]);
    if (!r.ok) {
      slot.textContent = errorMessage(r);  // the last list shown stays in place
      return;
    }
    slot.textContent = "";
    today = r.data.today;
    $("lead-today").textContent = "今天是 " + today.replace(/^(\d+)-0?(\d+)-0?(\d+)$/, "$1年$2月$3日");
    const items = r.data.items;
    const more = window.Erma.moreButton(r.data.next_offset, () => { shown[name] = items.length + window.Erma.PAGE; load(name); });
    $("list-" + name).replaceChildren(...(items.length ? items.map(RENDER[name]) : [el("li", { class: "empty" }, spec.empty)]),
                                      ...(more ? [more] : []));
    for (const count of document.querySelectorAll(`[data-count="${name}"]`)) count.textContent = String(r.data.total);
    document.querySelector(`[data-more="${name}"]`).textContent =
      r.data.total > items.length ? `共 ${r.data.total} 件，这里列出最早的 ${items.length} 件` : "";
  }

  async function loadAll() {
    const mine = ++loading;
    const button = $("lead-refresh");
    button.disabled = true;
    await Promise.all(Object.keys(LISTS).map(load));
    if (mine === loading) button.disabled = false;
  }

  async function loadTowns() {
    const r = await api("GET", "/api/v1/towns");
    if (!r.ok) return;
    const select = $("lead-town");
    for (const town of r.data.items) select.append(el("option", { value: town.code }, town.name));
  }

  // ------------------------------------------------------------------ tabs (phones show one list at a time)

  function showTab(name) {
    if (!(name in LISTS)) name = "deferrals";
    for (const button of document.querySelectorAll("[data-tab]")) {
      button.setAttribute("aria-selected", String(button.dataset.tab === name));
    }
    for (const section of document.querySelectorAll("[data-section]")) {
      section.classList.toggle("active", section.dataset.section === name);
    }
  }

  for (const button of document.querySelectorAll("[data-tab]")) {
    button.addEventListener("click", () => {
      history.replaceState(null, "", "#" + button.dataset.tab);
      showTab(button.dataset.tab);
    });
  }
  $("lead-refresh").addEventListener("click", () => {
    $("lead-notice").textContent = "";
    loadAll();
  });
  $("lead-town").addEventListener("change", () => {
    $("lead-notice").textContent = "";
    loadAll();
  });

  showTab(location.hash.slice(1));
  loadTowns();
  loadAll();
})();
