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

  function toLogin() {
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

  const TIME = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false });
  const DAY = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", month: "numeric", day: "numeric" });

  function clock(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    const today = DAY.format(new Date());
    const day = DAY.format(date);
    return (day === today ? "" : day + " ") + TIME.format(date);
  }

  return { api, errorMessage, newId, el, duration, clock, cookie, toLogin };
})();
