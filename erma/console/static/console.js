// Shared by the staff pages: calling the platform's JSON API with the session cookie.
// Unsafe methods carry the CSRF token from the readable erma_csrf cookie (the platform checks it).
"use strict";

window.Erma = (function () {
  const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
  const NETWORK_ERROR = { error: { code: "network", message: "网络不通，请检查网络后再试" } };

  function cookie(name) {
    for (const part of document.cookie.split(";")) {
      const [key, ...rest] = part.trim().split("=");
      if (key === name) return decodeURIComponent(rest.join("="));
    }
    return "";
  }

  // Signing out ends the session before the browser leaves the page: a poll answered 401 meanwhile must
  // not replace the sign-out page ("您已退出登录") with a plain sign-in redirect.
  let signingOut = false;
  document.addEventListener("submit", (event) => {
    if (event.target.matches && event.target.matches("form.logout")) signingOut = true;
  }, true);

  function toLogin() {
    if (signingOut) return;
    const here = location.pathname + location.search;
    location.assign("/staff/login?next=" + encodeURIComponent(here));
  }

  // Resolves to {ok, status, data}; never throws. A signed-out session goes back to the sign-in page.
  async function api(method, path, body, headers) {
    const init = { method, credentials: "same-origin", headers: Object.assign({ Accept: "application/json" }, headers || {}) };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (UNSAFE.has(method)) init.headers["X-CSRF-Token"] = cookie("erma_csrf");
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      return { ok: false, status: 0, data: NETWORK_ERROR };
    }
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = { error: { code: "bad_response", message: "服务器返回异常，请稍后再试" } };
    }
    if (response.status === 401) {
      toLogin();
    }
    return { ok: response.ok, status: response.status, data };
  }

  function errorMessage(result) {
    const error = result && result.data && result.data.error;
    if (error && error.message) return error.message;
    return "操作没有成功，请稍后再试";
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child.nodeType ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return seconds + " 秒";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " 分钟";
    const hours = Math.floor(minutes / 60);
    if (hours < 24) return hours + " 小时 " + (minutes % 60) + " 分";
    return Math.floor(hours / 24) + " 天 " + (hours % 24) + " 小时";
  }

  // China time, whatever the device's zone: the API sends instants with an offset ("…+00:00") and
  // dates as China dates ("YYYY-MM-DD"); pages never cut times out of the raw text.
  const CHINA_PARTS = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "numeric",
                                                        day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

  function chinaParts(value) {
    if (!value) return null;
    const plain = DATE_ONLY.exec(String(value));
    if (plain) return { year: +plain[1], month: +plain[2], day: +plain[3], time: "" };
    const date = value instanceof Date ? value : new Date(value);
    if (isNaN(date.getTime())) return null;
    const p = {};
    for (const part of CHINA_PARTS.formatToParts(date)) p[part.type] = part.value;
    return { year: +p.year, month: +p.month, day: +p.day, time: p.hour + ":" + p.minute };
  }

  // chinaTime(iso, form): form "full" (default) "2026年12月5日 23:43", "short" "12月5日 23:43",
  // "date" "2026年12月5日", "iso-date" "2026-12-05" (the China date of an instant). "" for no value.
  function chinaTime(value, form) {
    const p = chinaParts(value);
    if (!p) return "";
    const date = p.year + "年" + p.month + "月" + p.day + "日";
    const time = p.time ? " " + p.time : "";
    if (form === "short") return p.month + "月" + p.day + "日" + time;
    if (form === "date") return date;
    if (form === "iso-date") return p.year + "-" + String(p.month).padStart(2, "0") + "-" + String(p.day).padStart(2, "0");
    return date + time;
  }

  // clock(iso): "23:39" on today's China date, "12月4日 23:39" on another day.
  function clock(iso) {
    const p = chinaParts(iso);
    if (!p) return "";
    return chinaTime(iso, "iso-date") === chinaTime(new Date(), "iso-date") ? p.time : chinaTime(iso, "short");
  }

  // The platform's lists come a page at a time (`limit`, `offset`, `next_offset`). pages(path, shown)
  // reads pages from the first until at least `shown` rows (or the list's end): a page that refreshes
  // keeps what "更多" had opened. Returns api()'s answer for the first page with every row read in
  // data.items, and data.next_offset of the last page read (null: nothing more).
  const PAGE = 100;

  async function pages(path, shown) {
    const sep = path.includes("?") ? "&" : "?";
    let first = null;
    const items = [];
    let offset = 0;
    while (true) {
      const r = await api("GET", path + sep + "limit=" + PAGE + "&offset=" + offset);
      if (!r.ok) return r;
      if (!first) first = r;
      items.push(...r.data.items);
      offset = r.data.next_offset;
      if (offset === null || offset === undefined || items.length >= (shown || PAGE)) break;
    }
    first.data = Object.assign({}, first.data, { items, next_offset: offset === undefined ? null : offset });
    return first;
  }

  // The "更多" control under a paged list: shown only while the platform says there is more.
  function moreButton(nextOffset, onClick) {
    if (nextOffset === null || nextOffset === undefined) return null;
    const button = el("button", { type: "button", class: "more" }, "更多");
    button.addEventListener("click", onClick);
    return el("li", { class: "more-row" }, button);
  }

  return { api, errorMessage, newId, el, duration, clock, chinaTime, cookie, toLogin, pages, moreButton, PAGE };
})();
