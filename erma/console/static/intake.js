// Counter intake (/staff/intake): a walk-in resident's item, the materials handed in, the applicant,
// then POST /api/v1/cases (channel counter) and the receipt. Every rule is the platform's: the item
// search is the assistant's own (GET /api/v1/services?q=), each field is checked by
// POST /api/v1/validation, and the case API's Chinese messages go next to their fields.
// Nothing typed is lost on a failed request: the form is only cleared by "接待下一位".
"use strict";

(function () {
  const { api, errorMessage, el, newId } = window.Erma;
  const $ = (id) => document.getElementById(id);
  const root = $("intake");
  const form = $("intake-form");
  const DRAFT_KEY = "erma-intake-draft";
  const FORMS = [["original", "原件"], ["copy", "复印件"]];
  const FIELDS = ["applicant_name", "id_number", "phone", "hukou_town", "hukou_village"];

  let item = null;          // the chosen item: GET /api/v1/services/{code}
  let towns = [];           // [{code, name, villages}] from GET /api/v1/towns
  let pending = null;       // {key, text}: one Idempotency-Key per distinct request, so a double tap opens one case
  let submitting = false;
  let repeatConfirmed = false;
  let restoredTicks = null; // ticks of a draft kept across a sign-in, applied once the item is loaded

  // China time whatever the device's zone (console.js has the shared formatter).
  const chinaDate = (value) => (window.Erma.chinaTime ? window.Erma.chinaTime(value, "date") : String(value || ""));
  const chinaStamp = (value) => (window.Erma.chinaTime ? window.Erma.chinaTime(value) : String(value || ""));

  // ------------------------------------------------------------------ errors next to fields

  function slot(field) {
    return form.querySelector(`[data-error-for="${CSS.escape(field || "_form")}"]`) ||
           form.querySelector('[data-error-for="_form"]');
  }

  function setError(field, message) {
    const target = slot(field);
    target.textContent = target.textContent && message ? target.textContent + "；" + message : (message || "");
    const input = form.elements[field];
    if (input && input.setAttribute) input.setAttribute("aria-invalid", message ? "true" : "false");
  }

  function clearErrors() {
    for (const p of form.querySelectorAll("[data-error-for]")) p.textContent = "";
    for (const input of form.querySelectorAll("[aria-invalid]")) input.setAttribute("aria-invalid", "false");
  }

  function showApiErrors(result) {
    const error = (result.data && result.data.error) || {};
    const errors = error.errors && error.errors.length ? error.errors : [{ field: error.field, message: errorMessage(result) }];
    for (const e of errors) setError(fieldOf(e.field), e.message);
    const first = form.elements[fieldOf(errors[0].field)];
    if (first && first.focus) first.focus();
    else slot(fieldOf(errors[0].field)).scrollIntoView({ block: "center" });
  }

  // The case API names materials_have / materials_received[i] / service_code; the page's slots match.
  function fieldOf(field) {
    if (!field) return "_form";
    if (field.startsWith("materials")) return "materials_received";
    return field;
  }

  // ------------------------------------------------------------------ item search and materials

  async function searchItems() {
    const q = $("item-q").value.trim();
    setError("service_code", "");
    $("item-hint").textContent = "";
    if (!q) {
      setError("service_code", "请先输入群众要办的事项，如“低保”“临时救助”");
      $("item-q").focus();
      return;
    }
    const button = $("item-search");
    button.disabled = true;
    const r = await api("GET", "/api/v1/services?limit=5&q=" + encodeURIComponent(q));
    button.disabled = false;
    if (!r.ok) return setError("service_code", errorMessage(r));
    const { items, ambiguous, choices } = r.data;
    if (!items.length) {
      $("item-results").replaceChildren();
      setError("service_code", "没有找到相关事项，请换个说法再找，如事项名称里的关键词");
      return;
    }
    if (ambiguous) {
      $("item-hint").textContent = "有几项都可能，请问清群众要办哪一项：";
      showResults(choices);
      return;
    }
    await chooseItem(items[0].code);
    $("item-hint").textContent = items.length > 1 ? "不是这一项？下面还有相近的事项：" : "";
    showResults(items.slice(1));
  }

  function showResults(list) {
    $("item-results").replaceChildren(...list.map((found) => {
      const button = el("button", { type: "button", class: "item-choice", "data-code": found.code },
        el("span", { class: "choice-name" }, found.name), el("span", { class: "choice-cat" }, found.category));
      button.addEventListener("click", () => chooseItem(found.code));
      return el("li", {}, button);
    }));
  }

  async function chooseItem(code) {
    setError("service_code", "");
    const r = await api("GET", "/api/v1/services/" + encodeURIComponent(code));
    if (!r.ok) return setError("service_code", errorMessage(r));
    item = r.data;
    $("item-name").textContent = item.name;
    const facts = [item.department, "承诺" + item.promised_working_days + (item.time_limit_unit === "calendar_days" ? "天" : "个工作日")];
    if (item.rongque_listed) facts.push("列入容缺受理清单");
    $("item-facts").textContent = facts.join(" · ");
    $("item-chosen").hidden = false;
    $("item-results").replaceChildren();
    $("item-hint").textContent = "";
    renderMaterials();
    $("materials-empty").hidden = true;
    $("materials-hint").hidden = false;
  }

  function materialRow(m, i) {
    const id = "m-" + i;
    const defaultForm = m.form === "复印件" ? "copy" : "original";
    const tags = [el("span", { class: "tag " + (m.required ? "need" : "maybe") }, m.required ? "必需" : "视情况提供")];
    if (m.deferrable && item.rongque_listed) tags.push(el("span", { class: "tag defer" }, "可容缺"));
    const select = el("select", { id: id + "-form", class: "form-pick", "aria-label": m.name + " 原件还是复印件" },
      ...FORMS.map(([value, text]) => el("option", { value, selected: value === defaultForm }, text)));
    const row = el("li", { class: "material", "data-name": m.name },
      el("label", { class: "tick", for: id },
        el("input", { type: "checkbox", id, name: "material", value: m.name }),
        el("span", { class: "m-text" }, el("span", { class: "m-name" }, m.name),
           el("span", { class: "m-meta" }, `${m.form} ${m.count} 份`, ...tags),
           m.note ? el("span", { class: "m-note" }, m.note) : null)),
      select);
    return row;
  }

  function renderMaterials() {
    $("materials").replaceChildren(...item.materials.map(materialRow));
    if (restoredTicks) {
      for (const tick of restoredTicks) {
        const row = [...$("materials").children].find((li) => li.dataset.name === tick.name);
        if (!row) continue;
        row.querySelector('input[type="checkbox"]').checked = true;
        row.querySelector("select").value = tick.form;
      }
      restoredTicks = null;
    }
  }

  function ticked() {
    return [...$("materials").querySelectorAll(".material")]
      .filter((row) => row.querySelector('input[type="checkbox"]').checked)
      .map((row) => ({ name: row.dataset.name, form: row.querySelector("select").value }));
  }

  // ------------------------------------------------------------------ applicant and household town

  async function checkField(input) {
    const value = input.value.trim();
    if (!value) return;
    const r = await api("POST", "/api/v1/validation", { field: input.dataset.check, value });
    if (input.value.trim() !== value) return; // typed on meanwhile: the next check answers
    setError(input.name, "");
    if (r.ok && r.data.valid === false) setError(input.name, r.data.message);
  }

  async function loadTowns() {
    const select = $("f-hukou_town");
    const r = await api("GET", "/api/v1/towns");
    if (!r.ok) {
      select.replaceChildren(el("option", { value: "" }, "镇名单没有载入"));
      setError("hukou_town", errorMessage(r));
      return;
    }
    towns = r.data.items;
    const chosen = select.dataset.restore || "";
    select.replaceChildren(el("option", { value: "" }, "请选择户籍所在镇"),
      ...towns.map((t) => el("option", { value: t.name, selected: t.name === chosen }, t.name)));
    showVillages();
  }

  function showVillages() {
    const town = towns.find((t) => t.name === $("f-hukou_town").value);
    $("village-list").replaceChildren(...(town ? town.villages : []).map((v) => el("option", { value: v })));
  }

  // ------------------------------------------------------------------ opening the case

  function requestBody() {
    const value = (name) => form.elements[name].value.trim();
    return {
      service_code: item ? item.code : "",
      applicant_name: value("applicant_name"), id_number: value("id_number").toUpperCase(), phone: value("phone"),
      hukou_town: value("hukou_town"), hukou_village: value("hukou_village") || null,
      intake_point: root.dataset.point, channel: "counter",
      materials_received: ticked(), repeat_confirmed: repeatConfirmed,
    };
  }

  async function submit(event) {
    if (event) event.preventDefault();
    if (submitting) return; // a second tap while the first is on its way
    clearErrors();
    $("repeat").hidden = true;
    let bad = false;
    if (!item) {
      setError("service_code", "请先查找并选定办理事项");
      bad = true;
    }
    if (!form.elements.hukou_town.value) {
      setError("hukou_town", "请选择户籍所在镇（户口在哪个镇都可以在这里递交）");
      bad = true;
    }
    if (bad) {
      (item ? form.elements.hukou_town : $("item-q")).focus();
      return;
    }
    const body = requestBody();
    const text = JSON.stringify(body);
    if (!pending || pending.text !== text) pending = { key: newId(), text };
    submitting = true;
    const button = $("intake-submit");
    button.disabled = true;
    button.textContent = "正在登记…";
    const r = await api("POST", "/api/v1/cases", body, { "Idempotency-Key": pending.key });
    submitting = false;
    button.disabled = false;
    button.textContent = "登记并出回执";
    if (r.ok) return showReceipt(r.data, body);
    if (r.status === 401) return keepDraft(body); // the sign-in page brings the clerk back here
    const error = (r.data && r.data.error) || {};
    if (r.status === 409 && error.code === "open_case_exists") {
      $("repeat-text").textContent = error.message + "如果群众确实要再申请一件，请确认后登记。";
      $("repeat").hidden = false;
      $("repeat-go").focus();
      return;
    }
    showApiErrors(r);
  }

  // ------------------------------------------------------------------ the receipt

  function fact(list, label, value, cls) {
    if (!value) return;
    list.append(el("dt", {}, label), el("dd", { class: cls || null }, value));
  }

  function showReceipt(view, sent) {
    const receipt = view.receipt;
    if (!receipt) {
      setError("_form", `已登记，办件号 ${view.case_no}，但平台没有返回回执内容，请记下办件号后刷新页面。`);
      return;
    }
    const forms = Object.fromEntries(sent.materials_received.map((m) => [m.name, m.form]));
    const town = typeof receipt.hukou_town === "object" && receipt.hukou_town ? receipt.hukou_town.name : receipt.hukou_town;
    const facts = $("receipt-facts");
    facts.replaceChildren();
    fact(facts, "办件号", receipt.case_no, "case-no");
    fact(facts, "办理事项", receipt.service_name);
    fact(facts, "申请人", receipt.applicant_name);
    fact(facts, "身份证号", receipt.id_number, "id-masked");
    fact(facts, "户籍地", (town || "") + (view.hukou_village || ""));
    fact(facts, "接件点", receipt.intake_point_name);
    fact(facts, "登记时间", chinaStamp(view.created_at));
    // A date in a year whose holidays are not published yet is provisional (the calendar says so).
    fact(facts, "承诺办结", receipt.expected_completion_date ? chinaDate(receipt.expected_completion_date) + "前" +
      (view.expected_completion_provisional ? "（暂定，节假日安排公布后可能调整）" : "") : "");
    const agent = receipt.agent;
    fact(facts, "代办员", agent
      ? `${agent.display_name}（代办员证号 ${agent.credential_no}）` + (agent.phone_masked ? " " + agent.phone_masked : "")
      : "暂未分派，户籍所在镇会尽快安排代办员");

    const formText = Object.fromEntries(FORMS);
    $("receipt-received").replaceChildren(...(receipt.received.length
      ? receipt.received.map((name) => el("li", {}, name, forms[name] ? `（${formText[forms[name]]}）` : ""))
      : [el("li", { class: "none" }, "本次没有收到材料")]));
    const deferrable = new Set(receipt.can_defer || []);
    $("receipt-missing").replaceChildren(...(receipt.missing.length
      ? receipt.missing.map((name) => el("li", {}, name, deferrable.has(name) ? el("span", { class: "tag defer" }, "可容缺后补") : null))
      : [el("li", { class: "none" }, "无，所需材料已收齐")]));
    $("receipt-defer-note").hidden = !receipt.missing.some((name) => deferrable.has(name));

    form.hidden = true;
    $("receipt").hidden = false;
    $("receipt").focus();
    window.scrollTo(0, 0);
  }

  function nextResident() {
    form.reset();
    item = null;
    pending = null;
    repeatConfirmed = false;
    clearErrors();
    $("item-chosen").hidden = true;
    $("materials-empty").hidden = false;
    $("materials-hint").hidden = true;
    $("materials").replaceChildren();
    $("item-results").replaceChildren();
    $("item-hint").textContent = "";
    $("repeat").hidden = true;
    $("receipt").hidden = true;
    form.hidden = false;
    showVillages();
    $("item-q").focus();
  }

  // ------------------------------------------------------------------ a signed-out session

  // Only when the session ended mid-entry: what was typed waits in this tab (sessionStorage, gone
  // when the tab closes) for the same staff member, and is taken back out as soon as it is restored.
  function keepDraft(body) {
    try {
      sessionStorage.setItem(DRAFT_KEY, JSON.stringify({ user: root.dataset.user, q: $("item-q").value, body }));
    } catch (e) { /* private mode: nothing to keep */ }
  }

  function restoreDraft() {
    let draft = null;
    try {
      draft = JSON.parse(sessionStorage.getItem(DRAFT_KEY) || "null");
      sessionStorage.removeItem(DRAFT_KEY);
    } catch (e) {
      draft = null;
    }
    if (!draft || draft.user !== root.dataset.user) return;
    const body = draft.body;
    $("item-q").value = draft.q || "";
    for (const name of FIELDS) {
      if (name === "hukou_town") form.elements.hukou_town.dataset.restore = body.hukou_town || "";
      else form.elements[name].value = body[name] || "";
    }
    if (body.service_code) {
      restoredTicks = body.materials_received || [];
      chooseItem(body.service_code);
    }
  }

  // ------------------------------------------------------------------ wiring

  $("item-search").addEventListener("click", searchItems);
  $("item-q").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      searchItems();
    }
  });
  $("item-change").addEventListener("click", () => {
    $("item-q").focus();
    $("item-q").select();
  });
  for (const input of form.querySelectorAll("[data-check]")) {
    input.addEventListener("change", () => checkField(input));
  }
  $("f-hukou_town").addEventListener("change", () => {
    setError("hukou_town", "");
    showVillages();
  });
  $("repeat-go").addEventListener("click", () => {
    repeatConfirmed = true;
    submit();
  });
  form.addEventListener("submit", submit);
  $("receipt-print").addEventListener("click", () => window.print());
  $("receipt-next").addEventListener("click", nextResident);

  restoreDraft();
  loadTowns();
})();
