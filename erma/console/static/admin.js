// The county admin's page: catalog items, staff and agents, towns' aliases, the audit trail.
// Every check is the platform's (the catalog schema included): this page sends what was typed and
// puts each Chinese message next to its field; nothing typed is lost on an error or a failed call.
"use strict";

(function () {
  const { api, errorMessage, el, clock } = window.Erma;
  const $ = (id) => document.getElementById(id);
  const root = $("admin");
  const me = root.dataset.me;

  let towns = [];              // [{code, name, aliases}] from /api/v1/admin/towns
  let roles = [];              // [{value, text}] from /api/v1/admin/staff
  let points = [];             // [{code, name, kind}] counters (intake points) from /api/v1/admin/staff
  const loaded = new Set();    // tabs whose data has been fetched once
  let uid = 0;                 // ids that tie labels to inputs of rows added on the fly

  function notice(text) {
    $("admin-notice").textContent = text;
  }

  // ------------------------------------------------------------------ errors next to fields

  function clearErrors(scope) {
    for (const p of scope.querySelectorAll("[data-error-for]")) p.textContent = "";
  }

  // The slot for "materials[2].count", else "materials[2]", else "materials", else the form's own.
  function slotFor(scope, field) {
    let path = field || "";
    while (path) {
      const slot = scope.querySelector(`[data-error-for="${CSS.escape(path)}"]`);
      if (slot) return slot;
      const shorter = path.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
      if (shorter === path) break;
      path = shorter;
    }
    return scope.querySelector('[data-error-for="_form"]');
  }

  function inputFor(scope, field) {
    return scope.querySelector(`[data-field="${CSS.escape(field || "")}"], [name="${CSS.escape(field || "")}"]`);
  }

  function showErrors(scope, result) {
    clearErrors(scope);
    const error = (result.data && result.data.error) || {};
    const errors = error.errors && error.errors.length ? error.errors : [{ field: error.field, message: errorMessage(result) }];
    for (const e of errors) {
      const slot = slotFor(scope, e.field);
      if (!slot) continue;
      slot.textContent = slot.textContent ? slot.textContent + "；" + e.message : e.message;
    }
    const first = inputFor(scope, errors[0].field);
    if (first) first.focus();
    else (slotFor(scope, errors[0].field) || scope).scrollIntoView({ block: "center" });
  }

  async function busy(button, text, work) {
    const label = button.textContent;
    button.disabled = true;
    button.textContent = text;
    try {
      return await work();
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }

  function townOptions(select, first) {
    select.replaceChildren(el("option", { value: "" }, first), ...towns.map((t) => el("option", { value: t.code }, t.name)));
  }

  function townChecks(container, chosen, name) {
    container.replaceChildren(...towns.map((t) => el("label", { class: "check" },
      el("input", { type: "checkbox", name: name || "towns", value: t.code, checked: chosen.includes(t.code) }), " " + t.name)));
  }

  // Counters grouped by kind; "" for an account without one (only clerks and window agents have one).
  const POINT_KINDS = { village_point: "村便民服务站", town_centre: "镇便民服务中心", county_window: "县城代办点窗口" };
  function pointOptions(select, current) {
    const groups = Object.entries(POINT_KINDS).map(([kind, label]) => el("optgroup", { label },
      ...points.filter((p) => p.kind === kind).map((p) => el("option", { value: p.code }, p.name))));
    select.replaceChildren(el("option", { value: "" }, "不设接件点"), ...groups);
    select.value = current || "";
  }

  async function loadTowns() {
    const r = await api("GET", "/api/v1/admin/towns");
    if (!r.ok) {
      document.querySelector('[data-list-error="towns"]').textContent = errorMessage(r);
      return false;
    }
    towns = r.data.items;
    return true;
  }

  // ------------------------------------------------------------------ catalog items

  const item = { code: "", original: null, updatedAt: "", choices: { form: [], supplier: [], time_limit_unit: [] } };

  async function loadItemList() {
    const r = await api("GET", "/api/v1/services");
    const select = $("item-code");
    if (!r.ok) {
      select.replaceChildren(el("option", { value: "" }, "事项没有载入"));
      document.querySelector('[data-error-for="pick"]').textContent = errorMessage(r);
      return;
    }
    const groups = new Map();
    for (const i of r.data.items) {
      if (!groups.has(i.category)) groups.set(i.category, el("optgroup", { label: i.category || "其他" }));
      groups.get(i.category).append(el("option", { value: i.code }, i.code + " " + i.name));
    }
    select.replaceChildren(el("option", { value: "" }, "请选择事项"), ...groups.values());
    const wanted = new URLSearchParams(location.search).get("item");
    if (wanted && [...select.options].some((o) => o.value === wanted)) {
      select.value = wanted;
      openItem(wanted);
    }
  }

  function options(select, values, current) {
    const list = values.map((v) => (typeof v === "string" ? { value: v, text: v } : v));
    if (current !== undefined && current !== null && !list.some((v) => v.value === current)) list.push({ value: current, text: current });
    select.replaceChildren(...list.map((v) => el("option", { value: v.value }, v.text)));
    if (current !== undefined && current !== null) select.value = current;
  }

  function setValue(input, value) {
    if (input.type === "checkbox") input.checked = Boolean(value);
    else if ("lines" in input.dataset) input.value = (value || []).join("\n");
    else input.value = value === null || value === undefined ? "" : String(value);
  }

  // What the admin typed, as JSON: whole numbers as numbers, anything else exactly as typed (the
  // platform says what is wrong with it); a blank optional number is "not set".
  function readValue(input) {
    if (input.type === "checkbox") return input.checked;
    if ("lines" in input.dataset) return input.value.split("\n").filter((line) => line.trim() !== "");
    if ("number" in input.dataset) {
      const text = input.value.trim();
      if (/^\d+$/.test(text)) return Number(text);
      return text === "" ? null : input.value;
    }
    return input.value;
  }

  function materialRow(m) {
    const n = ++uid;
    const field = (name) => `materials[0].${name}`;
    const input = (name, attrs) => el("input", Object.assign({ id: `m${n}-${name}`, "data-field": field(name) }, attrs || {}));
    const error = (name) => el("p", { class: "error", "data-error-for": field(name) });
    const form = el("select", { id: `m${n}-form`, "data-field": field("form") });
    options(form, item.choices.form, m.form);
    const supplier = el("select", { id: `m${n}-supplier`, "data-field": field("supplier") });
    options(supplier, item.choices.supplier, m.supplier);
    const row = el("li", { class: "material" },
      el("div", { class: "material-head" }, el("strong", { class: "material-no" }, "第1项"),
         el("button", { type: "button", class: "material-remove danger" }, "删除这项")),
      el("p", { class: "error", "data-error-for": "materials[0]" }),
      el("label", { for: `m${n}-name` }, "材料名称"), input("name"), error("name"),
      el("div", { class: "three" },
         el("div", {}, el("label", { for: `m${n}-form` }, "原件/复印件"), form, error("form")),
         el("div", {}, el("label", { for: `m${n}-count` }, "份数"), input("count", { "data-number": "", inputmode: "numeric" }), error("count")),
         el("div", {}, el("label", { for: `m${n}-supplier` }, "由谁提供"), supplier, error("supplier"))),
      el("div", { class: "checks" },
         el("label", { class: "check" }, input("required", { type: "checkbox" }), " 必需的材料"),
         el("label", { class: "check" }, input("deferrable", { type: "checkbox" }), " 可以容缺后补")),
      error("required"), error("deferrable"),
      el("label", { for: `m${n}-note` }, "说明（可不填）"), input("note"), error("note"));
    for (const name of ["name", "count", "required", "deferrable", "note"]) setValue(row.querySelector(`#m${n}-${name}`), m[name]);
    row.querySelector(".material-remove").addEventListener("click", () => {
      const name = row.querySelector(`#m${n}-name`).value.trim();
      if (!window.confirm(`从材料清单里删除“${name || "这一项"}”？（保存后才生效）`)) return;
      row.remove();
      renumber();
    });
    return row;
  }

  // Paths follow the rows' order, so the platform's "materials[2].count" finds its input.
  function renumber() {
    [...$("materials").children].forEach((row, i) => {
      row.querySelector(".material-no").textContent = `第${i + 1}项`;
      for (const node of row.querySelectorAll("[data-field], [data-error-for]")) {
        for (const attr of ["data-field", "data-error-for"]) {
          const value = node.getAttribute(attr);
          if (value) node.setAttribute(attr, value.replace(/^materials\[\d+\]/, `materials[${i}]`));
        }
      }
    });
  }

  function fillItem(data) {
    item.code = data.item.code;
    item.original = data.item;
    item.updatedAt = data.updated_at;
    item.choices = data.choices;
    const form = $("item-form");
    clearErrors(form);
    $("item-title").textContent = `${data.item.code} ${data.item.name}`;
    options($("f-time_limit_unit"), data.choices.time_limit_unit, data.item.time_limit_unit);
    for (const input of form.querySelectorAll("[data-field]")) {
      const key = input.dataset.field;
      if (key.startsWith("materials") || input.tagName === "SELECT") continue;
      setValue(input, data.item[key]);
    }
    $("materials").replaceChildren(...data.item.materials.map(materialRow));
    renumber();
    form.hidden = false;
  }

  async function openItem(code) {
    const slot = document.querySelector('[data-error-for="pick"]');
    slot.textContent = "";
    if (!code) {
      slot.textContent = "请先选择一个事项";
      return;
    }
    const r = await busy($("item-open"), "打开中…", () => api("GET", "/api/v1/admin/services/" + encodeURIComponent(code)));
    if (!r.ok) {
      slot.textContent = errorMessage(r);
      return;
    }
    notice("");
    fillItem(r.data);
    history.replaceState(null, "", "?item=" + encodeURIComponent(code) + "#catalog");
  }

  function collectItem() {
    const form = $("item-form");
    const body = Object.assign({}, item.original);
    delete body.code;
    for (const input of form.querySelectorAll("[data-field]")) {
      if (!input.dataset.field.startsWith("materials")) body[input.dataset.field] = readValue(input);
    }
    body.materials = [...$("materials").children].map((row) => {
      const m = {};
      for (const input of row.querySelectorAll("[data-field]")) m[input.dataset.field.split(".").pop()] = readValue(input);
      return m;
    });
    return body;
  }

  async function saveItem(event) {
    event.preventDefault();
    const form = $("item-form");
    clearErrors(form);
    notice("");
    const r = await busy($("item-save"), "保存中…", () => api("PUT", "/api/v1/admin/services/" + encodeURIComponent(item.code),
                                                            { item: collectItem(), updated_at: item.updatedAt }));
    if (!r.ok) {
      showErrors(form, r);
      return;
    }
    item.original = r.data.item;
    item.updatedAt = r.data.updated_at;
    $("item-title").textContent = `${r.data.item.code} ${r.data.item.name}`;
    notice("已保存。" + r.data.summary);
    $("admin-notice").scrollIntoView({ block: "nearest" });
  }

  $("item-pick").addEventListener("submit", (event) => {
    event.preventDefault();
    openItem($("item-code").value);
  });
  $("item-form").addEventListener("submit", saveItem);
  $("material-add").addEventListener("click", () => {
    const row = materialRow({ name: "", form: item.choices.form[0], count: 1, required: true, deferrable: false,
                              supplier: item.choices.supplier[0], note: "" });
    $("materials").append(row);
    renumber();
    row.querySelector("input").focus();
  });
  $("item-reload").addEventListener("click", () => {
    if (window.confirm("放弃还没保存的修改，重新打开这个事项？")) {
      item.code && (async () => {
        const r = await api("GET", "/api/v1/admin/services/" + encodeURIComponent(item.code));
        if (r.ok) fillItem(r.data);
        else document.querySelector('#item-form [data-error-for="_form"]').textContent = errorMessage(r);
      })();
    }
  });

  // ------------------------------------------------------------------ staff and agents

  function staffFacts(s) {
    const list = el("dl", { class: "card-facts" });
    const add = (label, value) => value && list.append(el("dt", {}, label), el("dd", {}, value));
    add("所属镇", s.towns.length ? s.towns.map((t) => t.name).join("、") : (s.role === "duty_lead" || s.role === "admin" ? "全县"
      : s.role === "counter_clerk" ? "不分镇（各镇群众都接）" : "未选"));
    add("接件点", s.intake_point && s.intake_point.name);
    add("代办员证号", s.credential_no);
    add("手机", s.phone);
    if (s.role === "agent") add("在办办件", s.open_cases + " 件");
    return list;
  }

  function staffEditForm(s) {
    const n = ++uid;
    const form = el("form", { class: "staff-edit", novalidate: true, autocomplete: "off", hidden: true },
      el("label", { for: `e${n}-name` }, "姓名"), el("input", { id: `e${n}-name`, name: "display_name", value: s.display_name }),
      el("p", { class: "error", "data-error-for": "display_name" }),
      el("label", { for: `e${n}-role` }, "角色"), el("select", { id: `e${n}-role`, name: "role" }),
      el("p", { class: "error", "data-error-for": "role" }),
      el("fieldset", { class: "towns-pick" }, el("legend", {}, "所属镇"), el("div", { class: "town-checks" })),
      el("p", { class: "error", "data-error-for": "towns" }),
      el("label", { for: `e${n}-point` }, "接件点（接件员必选；在窗口接待群众的代办员可选）"),
      el("select", { id: `e${n}-point`, name: "intake_point" }),
      el("p", { class: "error", "data-error-for": "intake_point" }),
      el("label", { for: `e${n}-cred` }, "代办员证号"), el("input", { id: `e${n}-cred`, name: "credential_no", value: s.credential_no || "" }),
      el("p", { class: "error", "data-error-for": "credential_no" }),
      el("label", { for: `e${n}-mobile` }, "工作手机号"),
      el("input", { id: `e${n}-mobile`, name: "mobile", type: "tel", inputmode: "tel",
                    placeholder: s.phone ? `不改就留空（现在 ${s.phone}）` : "" }),
      el("p", { class: "error", "data-error-for": "mobile" }),
      el("p", { class: "error", "data-error-for": "_form", role: "alert" }),
      el("div", { class: "form-actions" }, el("button", { type: "submit", class: "primary" }, "保存"),
         el("button", { type: "button", class: "cancel" }, "收起")));
    options(form.elements.role, roles, s.role);
    townChecks(form.querySelector(".town-checks"), s.towns.map((t) => t.code));
    pointOptions(form.elements.intake_point, s.intake_point ? s.intake_point.code : "");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const body = { display_name: form.elements.display_name.value, role: form.elements.role.value,
                     towns: [...form.querySelectorAll('input[name="towns"]:checked')].map((i) => i.value),
                     intake_point: form.elements.intake_point.value, credential_no: form.elements.credential_no.value };
      if (form.elements.mobile.value.trim()) body.mobile = form.elements.mobile.value;
      const submit = form.querySelector('[type="submit"]');
      const r = await busy(submit, "保存中…", () => api("PATCH", "/api/v1/admin/staff/" + encodeURIComponent(s.username), body));
      if (!r.ok) return showErrors(form, r);
      notice(`已保存 ${r.data.display_name}（${r.data.username}）的修改`);
      replaceCard(s.username, r.data);
    });
    return form;
  }

  function passwordForm(s) {
    const n = ++uid;
    const form = el("form", { class: "staff-password", novalidate: true, autocomplete: "off", hidden: true },
      el("label", { for: `p${n}` }, "新密码（至少8位，字母和数字都要有）"),
      el("input", { id: `p${n}`, name: "password", type: "text", autocomplete: "new-password", spellcheck: "false" }),
      el("p", { class: "error", "data-error-for": "password" }),
      el("p", { class: "error", "data-error-for": "_form", role: "alert" }),
      el("div", { class: "form-actions" }, el("button", { type: "submit", class: "primary" }, "重置密码"),
         el("button", { type: "button", class: "cancel" }, "收起")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const r = await busy(form.querySelector('[type="submit"]'), "重置中…",
                           () => api("POST", `/api/v1/admin/staff/${encodeURIComponent(s.username)}/password`,
                                     { password: form.elements.password.value }));
      if (!r.ok) return showErrors(form, r);
      notice(r.data.notice);
      replaceCard(s.username, r.data);
    });
    return form;
  }

  function staffCard(s) {
    const edit = staffEditForm(s);
    const password = passwordForm(s);
    const toggle = (form) => () => {
      const opening = form.hidden;
      edit.hidden = password.hidden = true;
      form.hidden = !opening;
      if (opening) form.querySelector("input").focus();
    };
    const activeButton = el("button", { type: "button", class: s.active ? "danger" : "" }, s.active ? "停用" : "启用");
    const actionError = el("p", { class: "error", role: "alert" });
    activeButton.addEventListener("click", async () => {
      const question = s.active ? `停用 ${s.display_name}（${s.username}）的账号？停用后不能登录，也不再分到新办件。`
                                : `重新启用 ${s.display_name}（${s.username}）的账号？`;
      if (!window.confirm(question)) return;
      actionError.textContent = "";
      const r = await busy(activeButton, "处理中…",
                           () => api("POST", `/api/v1/admin/staff/${encodeURIComponent(s.username)}/${s.active ? "deactivate" : "activate"}`));
      if (!r.ok) {
        actionError.textContent = errorMessage(r);
        return;
      }
      notice(r.data.notice);
      replaceCard(s.username, r.data);
    });
    const actions = el("div", { class: "card-actions" },
      el("button", { type: "button", class: "edit-open" }, "修改"),
      el("button", { type: "button", class: "password-open" }, "重置密码"),
      s.username === me ? null : activeButton);
    actions.querySelector(".edit-open").addEventListener("click", toggle(edit));
    actions.querySelector(".password-open").addEventListener("click", toggle(password));
    for (const form of [edit, password]) {
      form.querySelector(".cancel").addEventListener("click", () => { form.hidden = true; });
    }
    return el("li", { class: "staff-card" + (s.active ? "" : " inactive"), "data-username": s.username },
      el("div", { class: "staff-top" }, el("strong", { class: "staff-name" }, s.display_name),
         el("span", { class: "username" }, s.username), el("span", { class: "role" }, s.role_text),
         s.active ? null : el("span", { class: "state-off" }, "已停用")),
      staffFacts(s), actions, actionError, edit, password);
  }

  // One card is redrawn; whatever is open or typed on the other cards stays as it is.
  function replaceCard(username, s) {
    const old = document.querySelector(`.staff-card[data-username="${CSS.escape(username)}"]`);
    const card = staffCard(s);
    if (old) old.replaceWith(card);
    else {
      for (const empty of $("staff-list").querySelectorAll(".empty")) empty.remove();
      $("staff-list").prepend(card);
    }
  }

  async function loadStaff() {
    const params = new URLSearchParams();
    if ($("staff-role").value) params.set("role", $("staff-role").value);
    if ($("staff-town").value) params.set("town", $("staff-town").value);
    const r = await api("GET", "/api/v1/admin/staff" + (params.toString() ? "?" + params : ""));
    const slot = document.querySelector('[data-list-error="staff"]');
    if (!r.ok) {
      slot.textContent = errorMessage(r);
      return;
    }
    slot.textContent = "";
    if (!roles.length) {
      roles = r.data.roles;
      points = r.data.intake_points || [];
      pointOptions($("s-intake_point"), "");
      options($("s-role"), [{ value: "", text: "请选择角色" }, ...roles], "agent");
      for (const role of roles) $("staff-role").append(el("option", { value: role.value }, role.text));
    }
    const items = r.data.items;
    $("staff-list").replaceChildren(...(items.length ? items.map(staffCard) : [el("li", { class: "empty" }, "没有符合条件的人员")]));
  }

  async function addStaff(event) {
    event.preventDefault();
    const form = $("staff-form");
    clearErrors(form);
    const value = (name) => form.elements[name].value;
    const body = { username: value("username"), display_name: value("display_name"), role: value("role"),
                   towns: [...form.querySelectorAll('input[name="towns"]:checked')].map((i) => i.value),
                   intake_point: value("intake_point"), credential_no: value("credential_no"), mobile: value("mobile"),
                   password: value("password") };
    const r = await busy(form.querySelector('[type="submit"]'), "添加中…", () => api("POST", "/api/v1/admin/staff", body));
    if (!r.ok) return showErrors(form, r);
    form.reset();
    options($("s-role"), [{ value: "", text: "请选择角色" }, ...roles], "agent");
    $("staff-add").open = false;
    notice(`已添加${r.data.role_text} ${r.data.display_name}（${r.data.username}），请把用户名和初始密码告诉本人`);
    replaceCard(r.data.username, r.data);
  }

  async function showStaffTab() {
    if (!towns.length && !(await loadTowns())) return;
    townOptions($("staff-town"), "全部镇");
    townChecks(document.querySelector('#staff-form [data-towns="towns"]'), []);
    await loadStaff();
  }

  $("staff-form").addEventListener("submit", addStaff);
  $("staff-role").addEventListener("change", loadStaff);
  $("staff-town").addEventListener("change", loadStaff);

  // ------------------------------------------------------------------ towns' aliases

  function aliasChip(a) {
    const confirm = el("button", { type: "button" }, a.confirmed ? "改为待核实" : "核实");
    const remove = el("button", { type: "button", class: "danger" }, "删除");
    const error = el("p", { class: "error", role: "alert" });
    const path = "/api/v1/admin/town-aliases/" + encodeURIComponent(a.alias);
    confirm.addEventListener("click", async () => {
      const r = await busy(confirm, "处理中…", () => api("PATCH", path, { confirmed: !a.confirmed }));
      if (!r.ok) return (error.textContent = errorMessage(r));
      notice(`“${a.alias}”已${r.data.confirmed ? "核实" : "改为待核实"}`);
      refreshTowns();
    });
    remove.addEventListener("click", async () => {
      if (!window.confirm(`删除老地名“${a.alias}”？删除后群众说这个名字就找不到对应的镇了。`)) return;
      const r = await busy(remove, "删除中…", () => api("DELETE", path));
      if (!r.ok) return (error.textContent = errorMessage(r));
      notice(`已删除老地名“${a.alias}”`);
      refreshTowns();
    });
    return el("li", { class: "alias" + (a.confirmed ? " confirmed" : ""), "data-alias": a.alias },
      el("span", { class: "alias-name" }, a.alias),
      el("span", { class: "alias-state" }, a.confirmed ? "已核实" : "待核实"),
      el("span", { class: "alias-actions" }, confirm, remove), error);
  }

  function renderTowns() {
    $("town-list").replaceChildren(...towns.map((t) => el("li", { class: "town", "data-town": t.code },
      el("h3", {}, t.name, el("span", { class: "count" }, String(t.aliases.length))),
      t.aliases.length ? el("ul", { class: "aliases" }, ...t.aliases.map(aliasChip))
                       : el("p", { class: "hint" }, "没有老地名"))));
  }

  async function refreshTowns() {
    if (await loadTowns()) renderTowns();
  }

  async function addAlias(event) {
    event.preventDefault();
    const form = $("alias-form");
    clearErrors(form);
    const body = { alias: form.elements.alias.value, town_code: form.elements.town_code.value,
                   confirmed: form.elements.confirmed.checked };
    const r = await busy(form.querySelector('[type="submit"]'), "添加中…", () => api("POST", "/api/v1/admin/town-aliases", body));
    if (!r.ok) return showErrors(form, r);
    form.reset();
    notice(`已添加：“${r.data.alias}”现在属于${r.data.town.name}`);
    refreshTowns();
  }

  async function showTownsTab() {
    if (!(await loadTowns())) return;
    const select = $("a-town_code");
    const keep = select.value;
    townOptions(select, "请选择镇");
    select.value = keep;
    renderTowns();
  }

  $("alias-form").addEventListener("submit", addAlias);

  // ------------------------------------------------------------------ audit

  async function showAudit() {
    const r = await api("GET", "/api/v1/admin/audit");
    const slot = document.querySelector('[data-list-error="audit"]');
    if (!r.ok) {
      slot.textContent = errorMessage(r);
      return;
    }
    slot.textContent = "";
    $("audit-list").replaceChildren(...(r.data.items.length ? r.data.items.map((a) => el("li", { class: "audit" },
      el("div", { class: "audit-meta" }, el("time", { datetime: a.at }, clock(a.at)), el("span", {}, a.actor)),
      el("div", { class: "audit-summary" }, a.summary))) : [el("li", { class: "empty" }, "还没有修改记录")]));
  }

  // ------------------------------------------------------------------ holiday overrides (节假日调整)

  // Warnings for this year and next when their official arrangement is not entered: shown on every tab.
  function renderCalendarWarnings(warnings) {
    const box = $("calendar-warnings");
    box.replaceChildren(...warnings.map((w) => el("p", { class: "calendar-warning", "data-year": String(w.year) }, w.message,
      el("button", { type: "button", class: "cal-go" }, `录入 ${w.year} 年节假日`))));
    for (const button of box.querySelectorAll("button")) {
      button.addEventListener("click", () => {
        history.replaceState(null, "", location.pathname + location.search + "#calendar");
        showTab("calendar");
        $("o-day").focus();
      });
    }
    box.hidden = !warnings.length;
  }

  function overrideRow(o) {
    const remove = el("button", { type: "button", class: "danger" }, "删除");
    const error = el("p", { class: "error", role: "alert" });
    remove.addEventListener("click", async () => {
      if (!window.confirm(`删除 ${o.day} 的“${o.kind_text}”设置？`)) return;
      const r = await busy(remove, "删除中…", () => api("DELETE", "/api/v1/admin/calendar/overrides/" + o.day));
      if (!r.ok) return (error.textContent = errorMessage(r));
      notice(`已删除 ${o.day} 的${o.kind_text}设置。` + (r.data.notice || ""));
      loadCalendar();
    });
    return el("li", { class: "cal-day " + o.kind, "data-day": o.day },
      el("span", { class: "cal-date" }, `${o.day}（周${o.weekday}）`), el("span", { class: "cal-kind" }, o.kind_text),
      el("span", { class: "cal-note" }, o.note || ""), remove, error);
  }

  function yearBlock(y) {
    const state = y.covered ? (y.source_from === "library" ? y.source_text : `已录入（${y.source}）`)
                            : "尚未录入，涉及该年的日期为暂定";
    return el("section", { class: "cal-year" + (y.covered ? "" : " uncovered"), "data-year": String(y.year) },
      el("h3", {}, `${y.year} 年`, el("span", { class: "cal-state" }, state)),
      y.items.length ? el("ul", { class: "cal-days" }, ...y.items.map(overrideRow))
                     : el("p", { class: "hint" }, "没有调整"));
  }

  async function loadCalendar() {
    const r = await api("GET", "/api/v1/admin/calendar");
    const slot = document.querySelector('[data-list-error="calendar"]');
    if (!r.ok) {
      slot.textContent = errorMessage(r);
      return;
    }
    slot.textContent = "";
    renderCalendarWarnings(r.data.warnings);
    $("calendar-years").replaceChildren(...r.data.years.map(yearBlock));
    const select = $("y-year");
    const keep = select.value;
    select.replaceChildren(...r.data.years.map((y) => el("option", { value: String(y.year) }, `${y.year} 年`)));
    const firstUncovered = r.data.years.find((y) => !y.covered);
    select.value = keep || (firstUncovered ? String(firstUncovered.year) : select.value);
  }

  async function addOverride(event) {
    event.preventDefault();
    const form = $("override-form");
    clearErrors(form);
    const body = { day: form.elements.day.value, kind: form.elements.kind.value, note: form.elements.note.value };
    if (!body.day) return showErrors(form, { data: { error: { field: "day", message: "请选择日期" } } });
    const r = await busy(form.querySelector('[type="submit"]'), "添加中…", () => api("POST", "/api/v1/admin/calendar/overrides", body));
    if (!r.ok) return showErrors(form, r);
    form.elements.day.value = "";
    form.elements.note.value = "";
    notice(`已添加：${r.data.day} ${r.data.kind_text}。` + (r.data.notice || ""));
    loadCalendar();
  }

  async function saveYearSource(event) {
    event.preventDefault();
    const form = $("year-source-form");
    clearErrors(form);
    const year = form.elements.year.value;
    const r = await busy(form.querySelector('[type="submit"]'), "保存中…",
                         () => api("PUT", "/api/v1/admin/calendar/years/" + encodeURIComponent(year), { source: form.elements.source.value }));
    if (!r.ok) return showErrors(form, r);
    form.elements.source.value = "";
    notice(r.data.source ? `${year} 年放假安排已标为全部录入（${r.data.source}）` : `已撤销 ${year} 年放假安排的依据，该年日期重新标为暂定`);
    loadCalendar();
  }

  $("override-form").addEventListener("submit", addOverride);
  $("year-source-form").addEventListener("submit", saveYearSource);

  // ------------------------------------------------------------------ tabs

  const SHOW = { catalog: () => {}, staff: showStaffTab, towns: showTownsTab, calendar: loadCalendar, audit: showAudit };

  function showTab(name) {
    if (!(name in SHOW)) name = "catalog";
    for (const button of document.querySelectorAll("[data-tab]")) {
      button.setAttribute("aria-selected", String(button.dataset.tab === name));
    }
    for (const section of document.querySelectorAll("[data-section]")) {
      section.classList.toggle("active", section.dataset.section === name);
    }
    // Lists are fetched the first time a tab opens (the audit every time: it is what just happened).
    if (name === "audit" || !loaded.has(name)) {
      loaded.add(name);
      SHOW[name]();
    }
  }

  for (const button of document.querySelectorAll("[data-tab]")) {
    button.addEventListener("click", () => {
      history.replaceState(null, "", location.pathname + location.search + "#" + button.dataset.tab);
      notice("");
      showTab(button.dataset.tab);
    });
  }

  loadItemList();
  showTab(location.hash.slice(1));
  if (location.hash !== "#calendar") loadCalendar();  // the uncovered-year warning, whatever tab is open
})();
