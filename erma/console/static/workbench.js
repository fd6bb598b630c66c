// The agent workbench list: my cases (by promised date) and my towns' unassigned cases (oldest
// first), each linking to its case page; an unassigned case can be taken (认领) right here.
// Every rule stays on the platform: this page shows what the API answers, errors included.
"use strict";

(function () {
  const { api, errorMessage, el, chinaTime } = window.Erma;
  const Erma = window.Erma;
  const $ = (id) => document.getElementById(id);
  const root = $("workbench");
  // From the page (erma/permissions.py): an agent carries cases and takes them; county-wide roles do not.
  const carriesCases = root.dataset.carriesCases === "true";
  const REFRESH_MS = 30000;
  let tab = new URLSearchParams(location.search).get("tab") === "waiting" ? "waiting" : "mine";

  function showTab(name) {
    tab = name;
    for (const button of document.querySelectorAll("[data-tab]")) {
      button.setAttribute("aria-selected", String(button.dataset.tab === name));
    }
    $("panel-mine").hidden = name !== "mine";
    $("panel-waiting").hidden = name !== "waiting";
    history.replaceState(null, "", name === "waiting" ? "?tab=waiting" : location.pathname);
  }

  function caseHref(c) {
    return "/staff/cases/" + encodeURIComponent(c.case_no);
  }

  function caseCard(c, kind) {
    const town = c.hukou_town ? c.hukou_town.name + (c.hukou_village ? " " + c.hukou_village : "") : "";
    const link = el("a", { class: "wb-card-link", href: caseHref(c) },
      el("span", { class: "wb-card-top" }, el("strong", { class: "wb-no" }, c.case_no),
         el("span", { class: "wb-stage stage-" + c.stage }, c.stage_text)),
      el("span", { class: "wb-item" }, c.service_name),
      el("span", { class: "wb-sub" }, c.applicant_name + (town ? "　" + town : "")),
      el("span", { class: "wb-date" }, "预计办结 " + c.expected_completion_date + (c.expected_completion_provisional ? "（暂定）" : "")
         + (kind === "waiting" ? "　收件 " + chinaTime(c.created_at, "date") : "")));
    const li = el("li", { class: "wb-card", "data-case-no": c.case_no }, link);
    if (kind === "waiting" && carriesCases) {
      const error = el("p", { class: "error", role: "alert" });
      const take = el("button", { type: "button", class: "primary take" }, "认领");
      take.addEventListener("click", () => takeCase(c, take, error));
      li.append(el("div", { class: "wb-card-actions" }, take), error);
    }
    return li;
  }

  // Rows shown per list; "更多" opens the next page and a refresh keeps what is open.
  const shown = { waiting: 100, mine: 200 };

  function render(listId, items, kind, emptyText, nextOffset) {
    const more = kind in shown ? Erma.moreButton(nextOffset, () => { shown[kind] = items.length + Erma.PAGE; refresh(); })
      : null;
    $(listId).replaceChildren(...(items.length ? items.map((c) => caseCard(c, kind))
      : [el("li", { class: "empty" }, emptyText)]), ...(more ? [more] : []));
  }

  function count(r) {
    return String(r.data.items.length) + (r.data.next_offset === null ? "" : "+");
  }

  async function refresh() {
    const requests = [Erma.pages("/api/v1/cases?assigned=none&open=true&order=oldest&masked=true", shown.waiting)];
    if (carriesCases) {
      requests.push(Erma.pages("/api/v1/cases?assigned=me&open=true&order=due&masked=true", shown.mine),
                    api("GET", "/api/v1/cases?assigned=me&open=false&order=newest&masked=true&limit=20"));
    }
    const [waiting, mine, done] = await Promise.all(requests);
    const failed = [waiting, mine, done].find((r) => r && !r.ok);
    $("wb-error").textContent = failed ? errorMessage(failed) : "";
    if (waiting.ok) {
      render("waiting-list", waiting.data.items, "waiting", "本镇现在没有待认领的办件", waiting.data.next_offset);
      $("waiting-count").textContent = count(waiting);
    }
    if (mine && mine.ok) {
      render("mine-list", mine.data.items, "mine", "您现在没有正在办理的办件", mine.data.next_offset);
      $("mine-count").textContent = count(mine);
    }
    if (done && done.ok) render("done-list", done.data.items, "done", "还没有已结束的办件");
  }

  async function takeCase(c, button, error) {
    error.textContent = "";
    button.disabled = true;
    const r = await api("POST", `/api/v1/cases/${encodeURIComponent(c.case_no)}/assignment`, {});
    button.disabled = false;
    if (!r.ok) {
      error.textContent = errorMessage(r);
      return;
    }
    $("wb-status").replaceChildren("已认领办件 ", el("a", { href: caseHref(c) }, c.case_no), "，现在由您办理。");
    await refresh();
  }

  for (const button of document.querySelectorAll("[data-tab]")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  if (!carriesCases) {
    // County-wide roles carry no cases of their own: only the unassigned ones are listed.
    $("tab-mine").hidden = true;
    $("tab-waiting").firstChild.textContent = "待认领 ";
    tab = "waiting";
  }
  showTab(tab);
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
