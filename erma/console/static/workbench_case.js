// One case on the agent workbench: what it is (personal data masked), take it, record submission
// to the department and the result, record a visit, and its 容缺 deferral (download the 一表一书,
// record the supplement and the reclaim, or open one); the duty lead or an admin reassigns (改派) it
// to another agent of its town or releases it back to the town's unassigned cases. Which buttons show is the platform's answer
// to GET …/actions; every request's error is the platform's own message, shown next to its field,
// and nothing typed is lost when a request fails.
"use strict";

(function () {
  const { api, errorMessage, el, chinaTime } = window.Erma;
  const $ = (id) => document.getElementById(id);
  const caseNo = $("case").dataset.caseNo;
  const base = "/api/v1/cases/" + encodeURIComponent(caseNo);

  const KIND = { transition: "办理阶段", assigned: "承办代办员", visit: "群众跑动", deficiency_notice: "一次性补正告知",
                 deferral: "容缺", followup: "回访", rating: "评价" };
  const DEFERRAL_STATUS = { open: "容缺办理中，等后补材料", supplied: "材料已补齐，待收回一表一书",
                            closed: "容缺已办结（一表一书已收回）", overdue: "已超过补齐期限" };

  // 收取 / 补正 / 容缺后补: what the agent says this batch of papers is (a returned case: always the resubmission).
  const OCCASIONS = [["collection", "收取材料"], ["resubmission", "补正材料"], ["supplement", "容缺后补材料"]];
  const RESUBMISSION = "resubmission";

  let actions = null;
  let theCase = null;
  let file = null;  // the review file: the item's materials with their status, the trips
  let department = "";
  let busy = false;
  let statusTimer = null;

  // A short confirmation at the bottom of the screen, wherever the agent has scrolled to.
  function status(message) {
    clearTimeout(statusTimer);
    $("page-status").textContent = message;
    if (message) statusTimer = setTimeout(() => { $("page-status").textContent = ""; }, 8000);
  }

  // ------------------------------------------------------------------ showing the case

  function text(id, value) {
    $(id).textContent = value === null || value === undefined || value === "" ? "—" : String(value);
  }

  function day(iso) {
    return chinaTime(iso);  // China time whatever the device's zone
  }

  function renderCase(c) {
    text("service-name", c.service_name);
    const stage = $("stage");
    stage.textContent = c.stage_text;
    stage.className = "stage-badge stage-" + c.stage;
    text("next-step", c.next_step);
    text("promised", c.expected_completion_date + (c.expected_completion_provisional ? "（暂定）" : ""));
    text("applicant", c.applicant_name);
    text("id-number", c.id_number);
    text("phone", c.phone);
    $("show-phone").hidden = false;
    text("hukou", c.hukou_town.name + (c.hukou_village ? " " + c.hukou_village : ""));
    text("intake", c.intake_point.name + "　" + day(c.created_at));
    text("agent", c.agent ? c.agent.name + (c.agent.credential_no ? "（" + c.agent.credential_no + "）" : "") : "还没有代办员承办");
    text("visits", c.visits + " 次");
    text("materials-have", (c.materials_have || []).join("、"));
    text("materials-missing", (c.materials_missing || []).join("、"));
    $("result-label").hidden = $("result").hidden = !c.result;
    text("result", c.result);
  }

  function renderVisits(visits) {
    const list = $("visit-list");
    list.hidden = !(visits && visits.length);
    list.replaceChildren(...(visits || []).map((v) => el("li", {},
      el("time", { datetime: v.at }, day(v.at)), " ", v.purpose_text, "（", v.place, "）", v.note ? "，" + v.note : "")));
  }

  // ------------------------------------------------------------------ 登记收到的材料

  function defaultForm(m) {
    return m.form === "复印件" ? "copy" : "original";
  }

  function materialPick(m, kept) {
    const ticked = kept.get(m.name);
    const form = el("select", { name: "form", "data-material": m.name, "aria-label": m.name + " 收到的是" },
      el("option", { value: "original" }, "原件"), el("option", { value: "copy" }, "复印件"));
    form.value = ticked ? ticked.form : defaultForm(m);
    return el("div", { class: "material-pick status-" + m.status },
      el("label", { class: "check" },
        el("input", { type: "checkbox", name: "material", value: m.name, checked: ticked ? true : null }),
        el("span", {}, m.name, el("span", { class: "pick-status" }, "现在：" + m.status_text
          + (m.can_defer ? "（可容缺后补）" : "") + (m.required ? "" : "（视情况提供）")))),
      form);
  }

  function pickedMaterials() {
    return [...$("materials-form").querySelectorAll('input[name="material"]:checked')].map((box) => ({
      name: box.value,
      form: $("materials-form").querySelector(`select[data-material="${CSS.escape(box.value)}"]`).value,
    }));
  }

  // The list opens on a tap (a returned case: at once, it is what the agent came for), so a phone
  // shows the case's other steps without scrolling past every material.
  function openMaterials(open) {
    $("materials-form").hidden = !open;
    $("materials-toggle").hidden = open;
    $("materials-toggle").setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) $("materials-choices").replaceChildren();
    else if (file) $("materials-choices").replaceChildren(...file.checklist.map((m) => materialPick(m, new Map())));
  }

  function renderMaterials(a, c, f) {
    const box = $("materials-box");
    const returned = c.stage === "returned_for_correction";
    const wasReturned = box.dataset.stage === "returned_for_correction";
    file = f;
    // Who may record is the platform's answer (erma/permissions.py: the agent holding an open case, an admin).
    box.hidden = !(f && a.can_record_materials === true);
    box.dataset.stage = c.stage;
    if (box.hidden) return;
    if (returned && !wasReturned) openMaterials(true);
    if (!$("materials-form").hidden) {
      const kept = new Map(pickedMaterials().map((m) => [m.name, m]));
      $("materials-choices").replaceChildren(...f.checklist.map((m) => materialPick(m, kept)));
    }
    const select = $("materials-occasion");
    const chosen = select.value;
    select.replaceChildren(...OCCASIONS.map(([value, label]) => el("option", { value }, label)));
    select.value = OCCASIONS.some(([v]) => v === chosen) ? chosen
      : c.stage === "deferral_accepted" ? "supplement" : "collection";
    // A returned case: what the resident brings is the correction, and recording it sends the case back to review.
    $("occasion-row").hidden = returned;
    $("materials-submit").textContent = returned ? "登记补正材料并重新提交审核" : "登记收到的材料";
    $("materials-hint").textContent = returned
      ? "办件已退回补正。勾选群众补来的材料，注明原件还是复印件；登记后办件重新提交户籍地镇审核。"
      : "勾选这次收到的材料，注明原件还是复印件。登记后审核人员看到的材料核对会随之更新。";
  }

  function renderActions(a) {
    actions = a;
    $("holder").textContent = a.holder === "me" ? "我的办件" : a.holder === "none" ? "待认领" : "";
    $("holder").className = "holder holder-" + a.holder;
    $("take-box").hidden = !a.can_take;
    renderProgress(a.transitions);
    $("visit-box").hidden = !a.can_record_visit;
  }

  function renderProgress(transitions) {
    const box = $("progress-box");
    box.hidden = !transitions.length;
    const chosen = ($("progress-form").querySelector('input[name="to"]:checked') || {}).value;
    // Nothing is chosen in advance: one tap on 确认 must never withdraw a case by accident.
    $("progress-choices").replaceChildren(...transitions.map((t) => el("label", { class: "check choice" },
      el("input", { type: "radio", name: "to", value: t.to, "data-note-required": t.note_required ? "1" : null,
                    checked: chosen === t.to || null }),
      " " + t.text)));
    noteLabel();
  }

  function noteLabel() {
    const chosen = $("progress-form").querySelector('input[name="to"]:checked');
    const required = chosen && chosen.dataset.noteRequired === "1";
    $("progress-note-label").textContent = required ? "办理结果（必填）" : "说明（可不填）";
    $("progress-note").placeholder = required ? "如：已办好，证件已领回；或部门的审批结论"
      : chosen && chosen.value === "at_department" ? "如：已送" + (department || "主管部门") + "，经办人、材料份数" : "";
  }

  function renderDeferral(a, d) {
    const box = $("deferral-box");
    box.hidden = !(a.deferral.exists || a.deferral.can_open);
    $("deferral-record").hidden = !d;
    if (d) {
      $("deferral-status").textContent = DEFERRAL_STATUS[d.status] || d.status;
      $("deferral-status").className = "stage-badge deferral-" + d.status;
      text("form-no", d.form_no);
      text("pledge-no", d.pledge_no);
      text("deferral-missing", d.missing_materials.join("、"));
      text("deferral-deadline", d.deadline + (d.deadline_provisional ? "（暂定）" : ""));
      text("deferral-supplied", d.supplied_at ? "已收到（" + day(d.supplied_at) + "）" : "还没有收到");
      text("deferral-reclaimed", d.reclaimed_at ? "已收回（" + day(d.reclaimed_at) + "）" : "还没有收回");
      const pdf = $("forms-pdf");
      pdf.hidden = !a.deferral.can_print;
      pdf.href = base + "/deferral/forms.pdf";
      $("record-supplement").hidden = !a.deferral.can_record_supplement;
      $("record-reclaim").hidden = !a.deferral.can_record_reclaim;
      $("deferral-step-form").hidden = !(a.deferral.can_record_supplement || a.deferral.can_record_reclaim);
    }
    const openForm = $("deferral-open-form");
    openForm.hidden = !a.deferral.can_open;
    if (a.deferral.can_open) {
      // First shown: what the reviewer agreed may follow later (同意容缺); later: what the agent ticked.
      const ticked = openForm.dataset.built ? new Set([...openForm.querySelectorAll('input[name="missing"]:checked')]
        .map((i) => i.value)) : new Set(reviewerDeferred());
      openForm.dataset.built = "1";
      $("deferral-choices").replaceChildren(...a.deferral.deferrable_materials.map((m) => el("label", { class: "check" },
        el("input", { type: "checkbox", name: "missing", value: m, checked: ticked.has(m) || null }), " " + m)));
    }
  }

  function reviewerDeferred() {
    const agreed = file ? file.opinions.filter((o) => o.decision === "approve_deferral") : [];
    return agreed.length ? agreed[agreed.length - 1].deferred_materials || [] : [];
  }

  function renderHistory(items) {
    $("history").replaceChildren(...items.slice().reverse().map((e) => {
      const what = e.kind === "transition" && e.to_text
        ? (e.from_text ? e.from_text + " → " : "") + e.to_text : KIND[e.kind] || e.kind;
      return el("li", { class: "history-entry kind-" + e.kind },
        el("div", { class: "history-meta" }, el("time", { datetime: e.at }, day(e.at)),
           el("span", { class: "history-who" }, e.actor_name || e.actor)),
        el("div", { class: "history-what" }, what),
        e.note ? el("div", { class: "history-note" }, e.note) : null);
    }));
  }

  // ------------------------------------------------------------------ reassigning (duty lead, admin)

  const RELEASE = "release";

  function agentLabel(agent) {
    return agent.name + (agent.credential_no ? "（" + agent.credential_no + "）" : "");
  }

  // The town's agents as the platform lists them (the ones it accepts), with the cases each holds.
  async function renderReassign(a, c) {
    const box = $("reassign-box");
    box.hidden = !a.can_reassign;
    if (!a.can_reassign) return;
    $("reassign-town").textContent = c.hukou_town.name;
    const r = await api("GET", "/api/v1/towns/" + encodeURIComponent(c.hukou_town.code) + "/agents");
    if (!r.ok) {
      box.querySelector('[data-error-for="_form"]').textContent = errorMessage(r);
      return;
    }
    const select = $("reassign-agent");
    const chosen = select.value;  // a choice survives the reload that follows any other action
    const holder = c.agent ? c.agent.credential_no : null;
    const agents = r.data.items.map((agent) => {
      const current = holder !== null && agent.credential_no === holder;
      return el("option", { value: String(agent.id), disabled: current || null },
        `${agent.display_name}（${agent.credential_no}）在办 ${agent.open_cases} 件` + (current ? "（现承办）" : ""));
    });
    if (!agents.length) agents.push(el("option", { value: "", disabled: true }, "本镇暂无在岗代办员"));
    select.replaceChildren(
      el("option", { value: "" }, "请选择代办员"),
      el("optgroup", { label: r.data.town.name + "代办员" }, ...agents),
      el("option", { value: RELEASE, disabled: c.agent ? null : true },
         "释放（退回待认领）" + (c.agent ? "" : "（现在就是待认领）")));
    const still = [...select.options].find((o) => o.value === chosen && !o.disabled);
    select.value = still ? chosen : "";
  }

  async function load() {
    const [c, a, h, f] = await Promise.all([api("GET", base + "?masked=true"), api("GET", base + "/actions"),
                                            api("GET", base + "/events"), api("GET", base + "/review")]);
    if (!c.ok || !a.ok) {
      $("page-error").textContent = errorMessage(c.ok ? a : c);
      if (c.status === 404 || a.status === 404 || a.status === 403) $("case-body").hidden = true;
      return false;
    }
    $("page-error").textContent = "";
    $("case-body").hidden = false;
    theCase = c.data;
    renderCase(c.data);
    renderActions(a.data);
    renderMaterials(a.data, c.data, f.ok ? f.data : null);
    renderVisits(f.ok ? f.data.visits : null);
    if (h.ok) renderHistory(h.data.items);
    await renderReassign(a.data, c.data);
    let d = null;
    if (a.data.deferral.exists) {
      const r = await api("GET", base + "/deferral");
      if (r.ok) d = r.data;
    }
    renderDeferral(a.data, d);
    if (!department) {
      const s = await api("GET", "/api/v1/services/" + encodeURIComponent(c.data.service_code));
      if (s.ok) {
        department = s.data.department || "";
        noteLabel();
      }
    }
    return true;
  }

  // ------------------------------------------------------------------ requests

  function clearErrors(scope) {
    for (const p of scope.querySelectorAll("[data-error-for]")) p.textContent = "";
  }

  function showError(scope, r) {
    const error = (r.data && r.data.error) || {};
    const slot = scope.querySelector(`[data-error-for="${error.field}"]`) || scope.querySelector('[data-error-for="_form"]')
      || scope.querySelector("[data-error-for]");
    slot.textContent = errorMessage(r);
    if (error.code === "materials_missing" && scope !== $("materials-form") && !$("materials-box").hidden) {
      slot.textContent += "。收到材料后请先在“登记收到的材料”里登记。";
    }
    const input = error.field && scope.querySelector(`[name="${error.field}"]`);
    if (input) input.focus();
  }

  // Sends one request; on success clears what the form held (`reset`) and reloads the case.
  async function send(scope, button, method, path, body, done, reset) {
    if (busy) return;
    clearErrors(scope);
    status("");
    busy = true;
    button.disabled = true;
    const r = await api(method, path, body);
    busy = false;
    button.disabled = false;
    if (!r.ok) {
      showError(scope, r);
      return;
    }
    if (reset) reset();
    await load();
    status(typeof done === "function" ? done(r.data) : done);
  }

  function noteOf(id) {
    return $(id).value.trim() || null;
  }

  $("take").addEventListener("click", () => send($("take-box"), $("take"), "POST", base + "/assignment", {},
                                                 "已认领，这个办件现在由您办理"));

  $("progress-form").addEventListener("change", (event) => { if (event.target.name === "to") noteLabel(); });
  $("progress-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = $("progress-form").querySelector('input[name="to"]:checked');
    if (!chosen) {
      clearErrors($("progress-form"));
      $("progress-form").querySelector('[data-error-for="to"]').textContent = "请先选择要把办件改为哪一步";
      return;
    }
    send($("progress-form"), $("progress-submit"), "POST", base + "/transitions",
         { to: chosen.value, note: $("progress-note").value.trim() || null },
         (data) => `已改为“${data.stage_text}”`, () => { $("progress-note").value = ""; });
  });

  $("visit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    send($("visit-form"), $("visit-submit"), "POST", base + "/visits",
         { purpose: $("visit-purpose").value, note: noteOf("visit-note") },
         (data) => `已登记群众跑动，累计 ${data.visits} 次`, () => { $("visit-note").value = ""; });
  });

  $("materials-toggle").addEventListener("click", () => {
    openMaterials(true);
    const first = $("materials-form").querySelector('input[name="material"]');
    if (first) first.focus();
  });

  $("materials-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = $("materials-form");
    const materials = pickedMaterials();
    if (!materials.length) {  // said here at once; the platform would say the same
      clearErrors(form);
      form.querySelector('[data-error-for="materials"]').textContent = "请勾选这次收到的材料";
      return;
    }
    const returned = theCase && theCase.stage === "returned_for_correction";
    const body = { materials, occasion: returned ? RESUBMISSION : $("materials-occasion").value,
                   in_person: $("materials-in-person").checked, note: noteOf("materials-note") };
    send(form, $("materials-submit"), "POST", base + "/materials", body,
         (data) => `已登记收到 ${materials.length} 项材料`
           + (returned ? `，办件已重新提交审核（${data.stage_text}）` : ""),
         () => {
           openMaterials(false);
           $("materials-in-person").checked = false;
           $("materials-note").value = "";
         });
  });

  $("record-supplement").addEventListener("click", () => send($("deferral-step-form"), $("record-supplement"), "POST",
    base + "/deferral/supplement", { note: noteOf("deferral-note") }, "已登记后补材料收到，请收回审核表和背书单",
    () => { $("deferral-note").value = ""; }));
  $("record-reclaim").addEventListener("click", () => send($("deferral-step-form"), $("record-reclaim"), "POST",
    base + "/deferral/reclaim", { note: noteOf("deferral-note") }, "已收回一表一书，容缺办结",
    () => { $("deferral-note").value = ""; }));

  $("deferral-open-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const missing = [...$("deferral-open-form").querySelectorAll('input[name="missing"]:checked')].map((i) => i.value);
    send($("deferral-open-form"), $("deferral-open"), "POST", base + "/deferral",
         { missing, note: noteOf("deferral-open-note") },
         (data) => `已容缺受理，一表一书 ${data.form_no}，请在 ${data.deadline} 前收齐材料`,
         () => { $("deferral-open-note").value = ""; });
  });

  $("reassign-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("reassign-agent").value;
    // Nothing chosen: sent without an agent, so the platform's own message says what is missing.
    const body = { note: noteOf("reassign-note") };
    if (value) body.agent_id = value === RELEASE ? null : Number(value);
    send($("reassign-form"), $("reassign-submit"), "POST", base + "/assignment", body,
         (data) => data.agent ? `已改派给 ${agentLabel(data.agent)}` : "已释放，退回本镇待认领",
         () => { $("reassign-agent").value = ""; $("reassign-note").value = ""; });
  });

  $("show-phone").addEventListener("click", async () => {
    // The full number only when the agent is about to call (the page otherwise keeps it masked).
    const r = await api("GET", base);
    if (!r.ok) {
      $("page-error").textContent = errorMessage(r);
      return;
    }
    $("phone").replaceChildren(el("a", { href: "tel:" + r.data.phone }, r.data.phone));
    $("show-phone").hidden = true;
  });

  load();
})();
