// The county dashboard: the figures GET /api/v1/dashboard computes, as bar charts drawn with inline
// SVG, every bar with its numbers written beside it (readable without colour), and tables of the
// same figures. No figure is computed here: counts, rates and their definitions are the platform's
// (erma/dashboard/metrics.py); the page only lays them out and formats them.
"use strict";

(function () {
  const { api, errorMessage, el, chinaTime } = window.Erma;
  const $ = (id) => document.getElementById(id);
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ITEMS_SHOWN = 10; // items in the comparison charts before "显示全部"
  const FIELDS = ["from", "to", "town"];
  const WIDE = window.matchMedia("(min-width: 1100px)");

  let loading = 0;
  let current = null; // the last dashboard shown
  let allItems = false;

  // ------------------------------------------------------------------ numbers

  // part/whole as a percentage with one decimal, halves rounded up (四舍五入) from the exact fraction —
  // the platform's percent_text, so the page shows the very digits of the CSV export.
  function pct(part, whole) {
    if (!whole) return null;
    const tenths = Math.floor((2000 * part + whole) / (2 * whole));
    return Math.floor(tenths / 10) + "." + (tenths % 10) + "%";
  }

  // Means arrive rounded to two places by the platform.
  function fixed(x, digits) {
    return x.toFixed(digits);
  }

  function dateText(iso) {
    const [y, m, d] = iso.split("-").map(Number);
    return y + "年" + m + "月" + d + "日";
  }

  // ------------------------------------------------------------------ SVG bars

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  // One horizontal bar: a light track (the whole scale) and the segments side by side. Widths are
  // percentages of the drawing, so the bar follows the width of the phone or the desk.
  function bar(segments, scale) {
    const drawing = svg("svg", { class: "bar", width: "100%", height: 22, "aria-hidden": "true", focusable: "false" });
    drawing.append(svg("rect", { class: "track", x: 0, y: 0, width: "100%", height: 22, rx: 4 }));
    let offset = 0;
    for (const segment of segments) {
      if (!(segment.value > 0) || !scale) continue;
      const width = (segment.value / scale) * 100;
      const rect = svg("rect", { class: "seg " + segment.cls, x: offset + "%", y: 0, width: width + "%", height: 22 });
      const tip = svg("title");
      tip.textContent = segment.label + " " + segment.text;
      rect.append(tip);
      drawing.append(rect);
      offset += width;
    }
    return drawing;
  }

  function swatch(cls) {
    const drawing = svg("svg", { class: "swatch", width: 14, height: 14, "aria-hidden": "true", focusable: "false" });
    drawing.append(svg("rect", { class: "seg " + cls, x: 0, y: 0, width: 14, height: 14, rx: 3 }));
    return drawing;
  }

  // A chart: a title, a note, a legend when the bars have several parts, and one row per group with
  // its label, the number(s) beside the bar, and the parts spelled out under it.
  function chart(metric, rows) {
    const scale = metric.percent ? 1 : Math.max(1, ...rows.map((r) => r.total));
    const figure = el("figure", { class: "chart" + (metric.compact ? " compact" : ""), "data-chart": metric.key });
    const caption = el("figcaption", {}, el("h3", {}, metric.title));
    if (metric.note) caption.append(el("p", { class: "chart-note" }, metric.note));
    figure.append(caption);
    if (metric.legend) {
      const legend = el("ul", { class: "legend" });
      for (const [cls, label] of metric.legend) legend.append(el("li", {}, swatch(cls), label));
      figure.append(legend);
    }
    const list = el("ol", { class: "bars" });
    for (const row of rows) {
      const label = el("span", { class: "bar-label" }, row.label);
      const value = el("span", { class: "bar-value" + (row.missing ? " missing" : "") }, row.value);
      // Compact: label, bar and number on one line (short overview charts); otherwise the bar
      // gets the whole width under its label and number.
      const item = metric.compact
        ? el("li", { class: "bar-row", "data-code": row.code }, label, bar(row.segments, scale), value)
        : el("li", { class: "bar-row", "data-code": row.code }, el("div", { class: "bar-head" }, label, value),
             bar(row.segments, scale));
      if (row.detail) item.append(el("p", { class: "bar-detail" }, row.detail));
      list.append(item);
    }
    figure.append(list);
    return figure;
  }

  // ------------------------------------------------------------------ what each comparison shows

  const LEVELS = ["5", "4", "3", "2", "1"];

  function count(n, unit) {
    return n + " " + unit;
  }

  function percentRow(rate, part, whole, unit, none) {
    const text = pct(part, whole);
    return {
      total: 1,
      value: text === null ? none : text,
      missing: text === null,
      segments: [{ value: rate || 0, cls: "seg-rate", label: "", text: text || "" }],
      detail: whole ? part + "/" + whole + " " + unit : "",
    };
  }

  function metrics(data) {
    const levelText = data.level_text;
    return [
      {
        key: "cases", title: "收件数与办理情况", legend: [["seg-open", "办理中"], ["seg-done", "已办结"], ["seg-ended", "未办成"]],
        note: "已办结含已告知、已评价、已回访的办件；未办成指不予受理、撤回或终止办理",
        row(f) {
          const open = f.open.count, done = f.completion.completed, ended = f.cases - open - done;
          const parts = [["seg-open", "办理中", open], ["seg-done", "已办结", done], ["seg-ended", "未办成", ended]];
          return {
            total: f.cases, value: count(f.cases, "件"),
            segments: parts.map(([cls, label, value]) => ({ cls, label, value, text: value + " 件" })),
            detail: parts.map(([, label, value]) => label + " " + value).join(" · "),
          };
        },
      },
      {
        key: "open", title: "未办结与超期", legend: [["seg-late", "已超期"], ["seg-open", "未超期"]],
        note: "超期：已过承诺办结日期仍未办结（退回补正等群众补材料期间暂停计时）",
        row(f) {
          const o = f.open;
          return {
            total: o.count, value: count(o.count, "件未办结"),
            segments: [{ cls: "seg-late", label: "已超期", value: o.overdue, text: o.overdue + " 件" },
                       { cls: "seg-open", label: "未超期", value: o.count - o.overdue, text: (o.count - o.overdue) + " 件" }],
            detail: o.count ? "已超期 " + o.overdue + " 件 · 最长已办 " + o.oldest_days + " 天" : "",
          };
        },
      },
      {
        key: "on_time", title: "按时办结率", percent: true, note: "已办结的办件中，在承诺日期前办结的比例",
        row: (f) => percentRow(f.completion.on_time_rate, f.completion.on_time, f.completion.completed, "件按时办结", "暂无办结"),
      },
      {
        key: "one_visit", title: "“最多跑一次”比例", percent: true,
        note: "有跑动记录的办件中，群众只跑了一次的比例；没有跑动记录的办件记为未记录，不计入",
        row(f) {
          const v = f.visits;
          const row = percentRow(v.at_most_one_share, v.at_most_one, v.recorded, "件最多跑一次",
                                 f.cases ? "未记录" : "暂无办件");
          if (v.mean !== null) row.detail += " · 平均跑动 " + fixed(v.mean, 2) + " 次";
          if (v.unrecorded) row.detail += (row.detail ? " · " : "") + "未记录 " + v.unrecorded + " 件";
          return row;
        },
      },
      {
        key: "deferral", title: "容缺受理比例", percent: true, note: "容缺受理的办件所占比例",
        row: (f) => percentRow(f.deferral.share, f.deferral.cases, f.cases, "件容缺受理", "暂无办件"),
      },
      {
        key: "supplement", title: "容缺按期补齐率", percent: true, note: "已补齐或已超期的容缺件中，按期补齐材料的比例",
        row: (f) => percentRow(f.deferral.on_time_supplement_rate, f.deferral.supplied_on_time, f.deferral.due,
                               "件按期补齐", "暂无到期的容缺件"),
      },
      {
        key: "ratings", title: "好差评", note: "差评：不满意、非常不满意",
        legend: LEVELS.map((level) => ["seg-level-" + level, levelText[level]]),
        row(f) {
          const r = f.ratings;
          return {
            total: r.count, value: count(r.count, "条评价") + (r.count ? " · 差评 " + r.bad : ""),
            segments: LEVELS.map((level) => ({ cls: "seg-level-" + level, label: levelText[level],
                                               value: r.by_level[level], text: r.by_level[level] + " 条" })),
            detail: LEVELS.filter((level) => r.by_level[level]).map((level) => levelText[level] + " " + r.by_level[level])
              .join(" · "),
          };
        },
      },
      {
        key: "rating_comments", title: "带文字的评价", legend: [["seg-level-1", "差评带文字"], ["seg-count", "其他带文字"]],
        note: "群众评价时除了选满意程度，还写了意见或理由的评价",
        row(f) {
          const w = f.rating_words, r = f.ratings;
          return {
            total: w.with_comment, value: count(w.with_comment, "条带文字"),
            segments: [{ cls: "seg-level-1", label: "差评带文字", value: w.bad_with_comment, text: w.bad_with_comment + " 条" },
                       { cls: "seg-count", label: "其他带文字", value: w.with_comment - w.bad_with_comment,
                         text: (w.with_comment - w.bad_with_comment) + " 条" }],
            detail: r.count ? "共 " + r.count + " 条评价 · 差评带文字 " + w.bad_with_comment + " 条" : "",
          };
        },
      },
      {
        key: "handoff", title: "聊天办件转人工率", percent: true, note: "经网页聊天、微信提交的办件中，会话曾转人工的比例",
        row: (f) => percentRow(f.handoff.rate, f.handoff.handed_off, f.handoff.chat_cases, "件转人工", "暂无聊天提交的办件"),
      },
    ];
  }

  // ------------------------------------------------------------------ the overview

  function kpi(key, label, value, sub, missing) {
    return el("div", { class: "kpi", "data-kpi": key },
      el("span", { class: "kpi-label" }, label),
      el("strong", { class: "kpi-value" + (missing ? " missing" : "") }, value),
      sub ? el("span", { class: "kpi-sub" }, sub) : null);
  }

  // 最多跑一次 over the cases with a recorded trip; with none recorded the share is unknown (未记录),
  // never 100 %. The tile says how many cases the share rests on and how many are unrecorded.
  function visitKpi(v) {
    const text = pct(v.at_most_one, v.recorded);
    const tile = kpi("one_visit", "最多跑一次", text === null ? "未记录" : text,
                     v.recorded + " 件有跑动记录，" + v.unrecorded + " 件未记录", text === null);
    if (text !== null) {
      tile.append(el("span", { class: "kpi-sub" }, v.at_most_one + "/" + v.recorded + " 件 · 平均跑动 " + fixed(v.mean, 2) + " 次"));
    }
    return tile;
  }

  // Where the trips were made, by kind of intake point (the platform lists every kind).
  function placesChart(places) {
    const rows = places.by_kind.map((p) => ({
      code: p.kind || "unknown", label: p.kind_text, total: p.visits, value: count(p.visits, "次"),
      segments: [{ cls: "seg-count", label: p.kind_text, value: p.visits, text: p.visits + " 次" }],
    }));
    return chart({ key: "visit_places", title: "群众跑动地点", compact: true,
                   note: places.total ? "共 " + places.total + " 次跑动" : "还没有跑动记录" }, rows);
  }

  function rateKpi(key, label, part, whole, sub, none) {
    const text = pct(part, whole);
    return kpi(key, label, text === null ? none : text, text === null ? "" : sub, text === null);
  }

  function overview(data) {
    const t = data.totals;
    const tiles = [
      kpi("cases", "收件", count(t.cases, "件")),
      kpi("open", "未办结", count(t.open.count, "件"),
          t.open.count ? "已超期 " + t.open.overdue + " 件 · 最长 " + t.open.oldest_days + " 天" : "全部办完"),
      rateKpi("on_time", "按时办结率", t.completion.on_time, t.completion.completed, t.completion.on_time + "/" + t.completion.completed + " 件",
              "暂无办结"),
      visitKpi(t.visits),
      rateKpi("deferral", "容缺受理比例", t.deferral.cases, t.cases, t.deferral.cases + "/" + t.cases + " 件", "暂无办件"),
      rateKpi("supplement", "容缺按期补齐率", t.deferral.supplied_on_time, t.deferral.due,
              t.deferral.supplied_on_time + "/" + t.deferral.due + " 件", "暂无到期的容缺件"),
      kpi("ratings", "评价", count(t.ratings.count, "条"), "差评 " + t.ratings.bad + " 条"),
      kpi("rating_comments", "带文字的评价", count(t.rating_words.with_comment, "条"),
          "其中差评 " + t.rating_words.bad_with_comment + " 条"),
      rateKpi("handoff", "聊天办件转人工", t.handoff.handed_off, t.handoff.chat_cases, t.handoff.handed_off + "/" + t.handoff.chat_cases + " 件",
              "暂无聊天办件"),
    ];
    if (data.conversations) {
      const c = data.conversations;
      tiles.push(rateKpi("conversations", "聊天会话转人工", c.handed_off, c.conversations, c.handed_off + "/" + c.conversations + " 个会话",
                         "暂无聊天会话"));
    }
    $("kpis").replaceChildren(...tiles);

    const charts = [];
    const stageRows = Object.entries(t.by_stage).map(([stage, n]) => ({
      code: stage, label: data.stage_text[stage], total: n, value: count(n, "件"),
      segments: [{ cls: "seg-count", label: data.stage_text[stage], value: n, text: n + " 件" }],
    }));
    charts.push(chart({ key: "by_stage", title: "办件现在所处的阶段", compact: true }, stageRows));
    const ageRows = Object.entries(t.open.age_days).map(([bucket, n]) => ({
      code: bucket, label: "已办" + data.age_text[bucket], total: n, value: count(n, "件"),
      segments: [{ cls: "seg-count", label: data.age_text[bucket], value: n, text: n + " 件" }],
    }));
    charts.push(chart({ key: "age", title: "未办结办件已办天数", compact: true,
                        note: t.open.count ? "共 " + t.open.count + " 件未办结，最长已办 " + t.open.oldest_days + " 天" : "没有未办结的办件" },
                      ageRows));
    const levelRows = LEVELS.map((level) => ({
      code: level, label: data.level_text[level], total: t.ratings.by_level[level],
      value: count(t.ratings.by_level[level], "条"),
      segments: [{ cls: "seg-level-" + level, label: data.level_text[level], value: t.ratings.by_level[level],
                   text: t.ratings.by_level[level] + " 条" }],
    }));
    charts.push(chart({ key: "rating_levels", title: "好差评分布", compact: true,
                        note: t.ratings.count ? "共 " + t.ratings.count + " 条评价，差评 " + t.ratings.bad + " 条；带文字的评价 "
                          + t.rating_words.with_comment + " 条" : "还没有评价" },
                      levelRows));
    if (data.visit_places) charts.push(placesChart(data.visit_places));
    $("total-charts").replaceChildren(...charts);
  }

  // ------------------------------------------------------------------ comparisons and tables

  function comparison(container, pick, list) {
    const ms = metrics(current);
    const chosen = pick.value || ms[0].key;
    if (!pick.options.length) {
      for (const m of ms) pick.append(el("option", { value: m.key }, m.title));
    }
    pick.value = chosen;
    container.replaceChildren(...ms.map((m) => {
      const figure = chart(m, list.map((g) => Object.assign({ code: g.code, label: g.name }, m.row(g.fig))));
      if (m.key === chosen) figure.classList.add("active");
      return figure;
    }));
  }

  function cell(key, main, sub, missing) {
    return el("td", { "data-key": key, class: missing ? "missing" : null }, main,
              sub ? el("span", { class: "sub" }, sub) : null);
  }

  function rateCell(key, rate, part, whole) {
    const text = pct(part, whole);
    return text === null ? cell(key, "—", "", true) : cell(key, text, part + "/" + whole);
  }

  // The share over the recorded cases, and how many cases have no trip recorded.
  function visitCell(f) {
    const v = f.visits, text = pct(v.at_most_one, v.recorded);
    const unrecorded = v.unrecorded ? "未记录 " + v.unrecorded + " 件" : "";
    if (text === null) return cell("at_most_one_share", f.cases ? "未记录" : "—", f.cases ? v.unrecorded + " 件" : "", true);
    return cell("at_most_one_share", text, v.at_most_one + "/" + v.recorded + (unrecorded ? " · " + unrecorded : ""));
  }

  // A table of one group per row and, at the foot, the whole of what is in view (全县 or the town).
  function table(caption, head, groups, row) {
    const thead = el("thead", {}, el("tr", {}, ...head.map((h, i) => el("th", { scope: "col", class: i ? null : "name" }, h))));
    const total = { code: "total", name: "合计", fig: current.totals };
    return el("div", { class: "table-wrap" },
      el("table", { class: "figures" }, el("caption", {}, caption), thead,
        el("tbody", {}, ...groups.map((g) => el("tr", { "data-code": g.code }, nameCell(g), ...row(g.fig)))),
        el("tfoot", {}, el("tr", { "data-code": total.code }, nameCell(total), ...row(total.fig)))));
  }

  function nameCell(g) {
    return el("th", { scope: "row", class: "name" }, g.name);
  }

  function tables(what, groups) {
    const main = table(what + "主要指标",
      ["名称", "收件", "未办结", "已超期", "最长已办(天)", "按时办结率", "平均跑动(次)", "最多跑一次", "容缺比例",
       "按期补齐率", "评价", "差评", "转人工率"],
      groups, (f) => [
        cell("cases", String(f.cases)),
        cell("open", String(f.open.count)),
        cell("overdue", String(f.open.overdue)),
        cell("oldest_days", f.open.oldest_days === null ? "—" : String(f.open.oldest_days)),
        rateCell("on_time_rate", f.completion.on_time_rate, f.completion.on_time, f.completion.completed),
        cell("visits_mean", f.visits.mean === null ? "—" : fixed(f.visits.mean, 2),
             f.visits.recorded ? "共 " + f.visits.total + " 次" : "", f.visits.mean === null),
        visitCell(f),
        rateCell("deferral_share", f.deferral.share, f.deferral.cases, f.cases),
        rateCell("on_time_supplement_rate", f.deferral.on_time_supplement_rate, f.deferral.supplied_on_time, f.deferral.due),
        cell("ratings", String(f.ratings.count)),
        cell("bad", String(f.ratings.bad)),
        rateCell("handoff_rate", f.handoff.rate, f.handoff.handed_off, f.handoff.chat_cases),
      ]);
    // Stages that hold no case anywhere in view would only add empty columns.
    const stages = Object.keys(current.stage_text).filter((s) => current.totals.by_stage[s] > 0);
    const byStage = table(what + "办理阶段（件）", ["名称", "收件", ...stages.map((s) => current.stage_text[s])], groups,
      (f) => [cell("cases", String(f.cases)), ...stages.map((s) => cell("stage:" + s, String(f.by_stage[s])))]);
    const buckets = Object.keys(current.age_text);
    const ages = table(what + "未办结办件已办天数（件）", ["名称", "未办结", ...buckets.map((b) => current.age_text[b])], groups,
      (f) => [cell("open", String(f.open.count)), ...buckets.map((b) => cell("age:" + b, String(f.open.age_days[b])))]);
    const ratings = table(what + "好差评（条）",
      ["名称", "评价", ...LEVELS.map((l) => current.level_text[l]), "差评", "带文字的评价", "差评带文字"], groups,
      (f) => [cell("ratings", String(f.ratings.count)), ...LEVELS.map((l) => cell("level:" + l, String(f.ratings.by_level[l]))),
              cell("bad", String(f.ratings.bad)), cell("with_comment", String(f.rating_words.with_comment)),
              cell("bad_with_comment", String(f.rating_words.bad_with_comment))]);
    return [main, byStage, ages, ratings];
  }

  function towns() {
    return current.by_town.map((t) => ({ code: t.town_code, name: t.town_name, fig: t }));
  }

  function items() {
    return current.by_item.map((i) => ({ code: i.service_code, name: i.service_name, fig: i }));
  }

  function renderTowns() {
    const groups = towns();
    comparison($("town-charts"), $("town-metric"), groups);
    $("town-tables").replaceChildren(...tables("各镇", groups));
  }

  function renderItems() {
    const groups = items();
    const shown = allItems ? groups : groups.slice(0, ITEMS_SHOWN);
    comparison($("item-charts"), $("item-metric"), shown);
    const more = $("items-more");
    more.hidden = groups.length <= ITEMS_SHOWN;
    more.textContent = allItems ? "只看收件最多的 " + ITEMS_SHOWN + " 个事项" : "显示全部 " + groups.length + " 个事项";
    $("items-note").textContent = groups.length > ITEMS_SHOWN && !allItems
      ? "共 " + groups.length + " 个事项有收件，图中是收件最多的 " + ITEMS_SHOWN + " 个；明细表列出全部。"
      : "共 " + groups.length + " 个事项有收件，按收件数从多到少。";
    $("item-tables").replaceChildren(...tables("各事项", groups));
  }

  const DEFINITION_TITLES = {
    cases: "收件数", by_stage: "办理阶段", open: "未办结与已办天数", on_time_rate: "按时办结率",
    visits: "跑动次数与“最多跑一次”", visit_places: "群众跑动地点", deferral_share: "容缺受理比例", on_time_supplement_rate: "容缺按期补齐率",
    ratings: "好差评", rating_comments: "带文字的评价", handoff_rate: "聊天办件转人工率", conversation_handoff_rate: "聊天会话转人工率",
  };

  function definitions(data) {
    const list = [];
    for (const [key, text] of Object.entries(data.definitions)) {
      list.push(el("dt", {}, DEFINITION_TITLES[key] || key), el("dd", {}, text));
    }
    $("definitions").replaceChildren(...list);
  }

  // ------------------------------------------------------------------ loading

  function scopeName(data) {
    if (!data.town) return "全县";
    const row = data.by_town.find((t) => t.town_code === data.town);
    return row ? row.town_name : data.town;
  }

  // The platform publishes the ratings with words beside each group's figures (keyed by the same
  // codes): hang them on the groups here, so every row function reads one object.
  function attachRatingWords(data) {
    const words = data.rating_comments || { totals: null, by_town: {}, by_item: {} };
    const none = { with_comment: 0, bad_with_comment: 0 };
    data.totals.rating_words = words.totals || none;
    for (const t of data.by_town) t.rating_words = words.by_town[t.town_code] || none;
    for (const i of data.by_item) i.rating_words = words.by_item[i.service_code] || none;
  }

  function render(data) {
    attachRatingWords(data);
    current = data;
    const main = $("dash");
    main.dataset.generatedAt = data.generated_at;
    main.dataset.from = data.from;
    main.dataset.to = data.to;
    const range = dateText(data.from) + "至" + dateText(data.to);
    $("dash-scope").textContent = scopeName(data) + " · " + range + "收件的办件 · 统计于 " + chinaTime(data.generated_at, "short");
    $("h-totals").textContent = scopeName(data) + "概况";
    const empty = data.totals.cases === 0;
    $("dash-empty").hidden = !empty;
    $("dash-empty").textContent = empty
      ? scopeName(data) + "在" + range + "没有新收的办件，统计图表暂时是空的。可以换个日期范围或镇再看看。" : "";
    $("dash-body").hidden = empty;
    if (empty) return;
    overview(data);
    // One town chosen: its figures are the overview; a comparison of one bar would say nothing more.
    $("sec-towns").hidden = Boolean(data.town);
    renderTowns();
    renderItems();
    definitions(data);
  }

  function query(values) {
    const params = new URLSearchParams();
    for (const name of FIELDS) if (values[name]) params.set(name, values[name]);
    return params.toString();
  }

  function showErrors(result) {
    const error = result.data && result.data.error;
    const field = error && FIELDS.includes(error.field) ? error.field : "_form";
    document.querySelector('[data-error-for="' + field + '"]').textContent = errorMessage(result);
    if (field !== "_form") {
      const input = $("dash-" + field);
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }

  function clearErrors() {
    for (const node of document.querySelectorAll("[data-error-for]")) node.textContent = "";
    for (const name of FIELDS) $("dash-" + name).removeAttribute("aria-invalid");
  }

  // Loads the figures for these filters. The form keeps what was typed whatever happens; the URL
  // and the CSV link change only once the platform has accepted the filters.
  async function load(values, remember) {
    const mine = ++loading;
    clearErrors();
    $("dash-loading").hidden = false;
    $("dash-apply").disabled = true;
    const qs = query(values);
    const result = await api("GET", "/api/v1/dashboard" + (qs ? "?" + qs : ""));
    if (mine !== loading) return;
    $("dash-loading").hidden = true;
    $("dash-apply").disabled = false;
    if (!result.ok) {
      showErrors(result);
      return;
    }
    const data = result.data;
    if (!$("dash-from").value) $("dash-from").value = data.from;
    if (!$("dash-to").value) $("dash-to").value = data.to;
    // The export covers exactly the days and town on screen (a default range would move at midnight).
    $("dash-csv").href = "/api/v1/dashboard.csv?" + query({ from: data.from, to: data.to, town: data.town });
    if (remember) history.replaceState(null, "", location.pathname + (qs ? "?" + qs : ""));
    render(data);
  }

  function formValues() {
    return { from: $("dash-from").value.trim(), to: $("dash-to").value.trim(), town: $("dash-town").value };
  }

  async function loadTowns(wanted) {
    const r = await api("GET", "/api/v1/towns");
    if (!r.ok) return;
    const select = $("dash-town");
    for (const town of r.data.items) select.append(el("option", { value: town.code }, town.name));
    if (wanted) {
      const match = r.data.items.find((t) => t.code === wanted || t.name === wanted);
      if (match) select.value = match.code;
    }
  }

  $("dash-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    load(formValues(), true);
  });
  for (const pick of document.querySelectorAll("[data-metric-for]")) {
    pick.addEventListener("change", () => {
      const container = pick.dataset.metricFor === "towns" ? $("town-charts") : $("item-charts");
      for (const figure of container.querySelectorAll(".chart")) {
        figure.classList.toggle("active", figure.dataset.chart === pick.value);
      }
    });
  }
  $("items-more").addEventListener("click", () => {
    allItems = !allItems;
    renderItems();
  });
  // On a desk the towns' table fits under the charts: open it; the rest opens on request.
  if (WIDE.matches) $("town-details").open = true;

  const params = new URLSearchParams(location.search);
  const initial = { from: params.get("from") || "", to: params.get("to") || "", town: params.get("town") || "" };
  $("dash-from").value = initial.from;
  $("dash-to").value = initial.to;
  loadTowns(initial.town);
  load(initial, false);
})();
