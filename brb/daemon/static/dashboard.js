// brb dashboard: renders the daemon's status and drives the button.
// Live from the server-sent events stream ("events"), polling the status JSON ("status")
// whenever the stream is down; a lost connection is shown and retried by itself.
// The admin token lives in sessionStorage only (this tab, until it is closed).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "brb.adminToken";
  const NAME_KEY = "brb.operatorName";
  const POLL_MS = 1000;
  const STALE_MS = 5000;
  const SSE_RETRY_MS = 3000;
  const STATE_ICON = { STANDBY: "○", ACTIVE: "▲", PRESSED: "■", HELD: "‖" };
  const SVG = "http://www.w3.org/2000/svg";

  let last = null; // the last status received
  let lastAt = 0; // Date.now() when it arrived
  let clockSkewMs = 0; // server now - browser now
  let formsPrefilled = false;
  let busy = false;

  // --- small formatting ---------------------------------------------------------------

  const usd = (v, digits = 2) =>
    v === null || v === undefined ? "–" : "$" + Number(v).toFixed(digits);

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.max(0, Math.round(seconds));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60), sec = s % 60;
    const parts = [];
    if (d) parts.push(d + "d");
    if (h) parts.push(h + "h");
    if (m) parts.push(m + "m");
    if (sec || !parts.length) parts.push(sec + "s");
    return parts.slice(0, 2).join(" ");
  }

  function clockTime(iso) {
    if (!iso) return "–";
    const t = new Date(iso);
    return t.toLocaleTimeString([], {
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    });
  }

  const serverNow = () => Date.now() + clockSkewMs;

  function relative(iso) {
    if (!iso) return "";
    const delta = (new Date(iso).getTime() - serverNow()) / 1000;
    return delta >= 0 ? "in " + duration(delta) : duration(-delta) + " ago";
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  const set = (id, text) => {
    const node = $(id);
    if (node.textContent !== text) node.textContent = text;
  };

  // --- rendering ----------------------------------------------------------------------

  function render(s) {
    last = s;
    lastAt = Date.now();
    if (s.now) clockSkewMs = new Date(s.now).getTime() - lastAt;
    renderState(s);
    renderControls(s);
    renderQueue(s);
    renderUpstreams(s);
    renderSpend(s);
    renderIncident(s);
    renderProviders(s);
    renderEvents(s);
    $("hero").classList.remove("stale");
  }

  function renderState(s) {
    const state = s.state || s.status || "UNKNOWN";
    $("hero").dataset.state = state;
    set("state", state);
    set("state-icon", STATE_ICON[state] || "?");
    document.title = state + " · brb";
    set("why", s.reason || "–");
    set("mode", s.mode || "–");
    set("breaker", s.breaker || "–");
    const o = s.override || {};
    const manual = s.mode === "on" || s.mode === "off";
    set("who", manual && o.who ? o.who + (o.source ? " via " + o.source : "") : "the breaker");
    const since = s.since || null;
    set("since", since ? clockTime(since) + " (" + relative(since) + ")" : "–");
    const until = s.override_until;
    set("until", until ? clockTime(until) + " (" + relative(until) + ")" : manual ? "until released" : "–");
    const blocked = $("blocked");
    const reasons = s.diversion_blocked_by || [];
    blocked.replaceChildren(...reasons.map((r) => el("li", { text: r })));
    blocked.hidden = reasons.length === 0;
  }

  function renderControls(s) {
    const admin = s.admin || {};
    const on = admin.token_configured === true;
    for (const id of ["press", "release", "hold", "press-for", "press-reason", "press-who"]) $(id).disabled = !on || busy;
    const off = $("controls-off");
    off.hidden = on;
    if (!on) {
      set("controls-off", "The button is disabled: the daemon has no admin token configured. " +
        "Set $" + (admin.token_env || "BRB_ADMIN_TOKEN") + " for the daemon to enable it; " +
        "`brb press` from a shell still works.");
    }
    set("token-env", admin.token_env || "BRB_ADMIN_TOKEN");
    $("forget").hidden = !sessionStorage.getItem(TOKEN_KEY);
    if (!formsPrefilled && on) {
      formsPrefilled = true;
      $("press-for").value = admin.press_for || "";
      $("press-reason").value = admin.press_reason || "";
    }
    const pressed = s.mode === "on";
    set("release", pressed || s.mode === "off" ? "Release to auto" : "Release to auto (already auto)");
  }

  function renderQueue(s) {
    const queue = s.queue || {};
    const hist = (s.history && s.history.models) || {};
    const models = [...new Set([...Object.keys(queue), ...Object.keys(hist)])].sort();
    set("queue-total", String(s.current_queue_depth ?? "–"));
    const box = $("queues");
    const seen = new Set();
    for (const model of models) {
      const id = "model-" + model.replace(/[^A-Za-z0-9_-]/g, "_");
      seen.add(id);
      let node = document.getElementById(id);
      if (!node) {
        node = el("div", { class: "model", id });
        box.append(node);
      }
      renderModel(node, model, queue[model], hist[model], s);
    }
    for (const child of [...box.children]) if (!seen.has(child.id)) child.remove();
    if (!models.length && !box.querySelector(".muted")) {
      box.append(el("p", { class: "muted", text: "No model has been asked for yet." }));
    } else if (models.length) {
      box.querySelectorAll(".muted").forEach((n) => n.remove());
    }
  }

  // One line per upstream, only when there is a pool (more than one).
  function renderUpstreams(s) {
    const ups = s.upstreams || [];
    const list = $("upstreams");
    list.hidden = ups.length < 2;
    if (list.hidden) return list.replaceChildren();
    list.replaceChildren(...ups.map((u) => {
      const up = u.healthy === true;
      const figures = (u.queue_depth ?? 0) + " waiting · " + (u.in_flight ?? 0) + " in flight · next would wait " +
        Number(u.predicted_wait_s ?? 0).toFixed(1) + "s";
      return el("li", { class: "upstream", "data-health": up ? "up" : "down" },
        el("span", { class: "upstream-name", text: u.name }),
        el("span", { class: "upstream-health", text: up ? "✓ up" : "✕ down" }),
        el("span", { class: "upstream-figures", text: figures }));
    }));
  }

  function renderModel(node, model, q, h, s) {
    const depth = q ? q.queue_depth : 0;
    const figures = q
      ? depth + " waiting · wait " + (q.oldest_wait_seconds ?? 0).toFixed(1) + "s · " +
        q.in_service + "/" + q.slots + " in service · next would wait " +
        (q.predicted_wait_seconds ?? 0).toFixed(1) + "s"
      : "idle";
    const depths = (h && h.queue_depth) || [];
    const waits = (h && h.wait_seconds) || [];
    const maxDepth = Math.max(0, ...depths.filter((v) => v !== null));
    const maxWait = Math.max(0, ...waits.filter((v) => v !== null));
    const summary = "Last 15 minutes: deepest queue " + maxDepth + ", longest wait " + maxWait.toFixed(1) + "s";
    node.replaceChildren(
      el("div", { class: "model-head" },
        el("span", { class: "model-name", text: model }),
        el("span", { class: "model-figures", text: figures })),
      sparkline(depths, waits, s.thresholds, summary),
      el("p", { class: "spark-legend" },
        el("span", { class: "k-depth", text: "queue depth" }), " ",
        el("span", { class: "k-wait", text: "wait" }), " · " + summary),
    );
  }

  function sparkline(depths, waits, thresholds, label) {
    const n = Math.max(depths.length, 2);
    const H = 40;
    let top = Math.max(1, ...depths.filter((v) => v !== null));
    const limit = thresholds && thresholds.queue_depth;
    const showLimit = limit && limit <= top * 2;
    if (showLimit) top = Math.max(top, limit);
    const waitTop = Math.max(1, ...waits.filter((v) => v !== null));
    const root = svg("svg", {
      class: "spark", viewBox: "0 0 " + (n - 1) + " " + H, preserveAspectRatio: "none",
      role: "img", "aria-label": label,
    });
    const y = (v, max) => (H - 1 - (v / max) * (H - 2)).toFixed(2);
    const line = (values, max) => {
      const points = values
        .map((v, i) => (v === null ? null : i + "," + y(v, max)))
        .filter((p) => p !== null);
      // one bucket so far: draw it as a short step so it is visible at all
      if (points.length === 1) points.unshift(Math.max(0, n - 2) + "," + points[0].split(",")[1]);
      return points;
    };
    root.append(svg("line", { class: "axis", x1: 0, x2: n - 1, y1: H - 0.5, y2: H - 0.5 }));
    const d = line(depths, top);
    if (d.length) {
      const firstX = d[0].split(",")[0];
      root.append(svg("polygon", { class: "area", points: firstX + "," + H + " " + d.join(" ") + " " + (n - 1) + "," + H }));
      root.append(svg("polyline", { class: "depth", points: d.join(" ") }));
    }
    const w = line(waits, waitTop);
    if (w.length) root.append(svg("polyline", { class: "wait", points: w.join(" ") }));
    if (showLimit) {
      root.append(svg("line", { class: "threshold", x1: 0, x2: n - 1, y1: y(limit, top), y2: y(limit, top) }));
    }
    return root;
  }

  function renderSpend(s) {
    const spent = s.spend_today_usd ?? 0, limit = s.daily_limit_usd ?? 0, reserved = s.reserved_usd ?? 0;
    set("spent", usd(spent, spent > 0 && spent < 1 ? 4 : 2)); // cents hide a small spend
    set("limit", usd(limit));
    set("remaining", usd(s.remaining_usd));
    set("reserved", usd(reserved));
    set("diverted", String(s.requests_diverted_today ?? s.diverted_today ?? "–"));
    set("per-request", s.cost_per_request_usd === null || s.cost_per_request_usd === undefined
      ? "–" : usd(s.cost_per_request_usd, 4));
    const pct = limit > 0 ? Math.min(100, (spent / limit) * 100) : 0;
    const resPct = limit > 0 ? Math.min(100 - pct, (reserved / limit) * 100) : 0;
    const bar = $("bar");
    bar.setAttribute("aria-valuenow", pct.toFixed(1));
    bar.setAttribute("aria-valuetext", usd(spent) + " of " + usd(limit) + " (" + pct.toFixed(1) + "%)");
    $("bar-fill").style.width = pct + "%";
    const res = $("bar-reserved");
    res.style.left = pct + "%";
    res.style.width = resPct + "%";
    const marks = s.alert_at_percent || [];
    bar.classList.toggle("full", !!s.budget_exhausted || pct >= 100);
    bar.classList.toggle("warn", marks.some((m) => pct >= m) && pct < 100);
    const box = $("bar-marks");
    box.replaceChildren(...marks.flatMap((m) => {
      const mark = el("div", { class: "mark" });
      mark.style.left = "calc(" + Math.min(100, m) + "% - 1px)";
      const label = el("div", { class: "mark-label", text: m + "%" });
      label.style.left = Math.min(96, Math.max(4, m)) + "%";
      return [mark, label];
    }));
    const state = s.budget_exhausted ? "EXHAUSTED: nothing more is diverted today. " : "";
    set("bar-legend", state + pct.toFixed(1) + "% used" +
      (marks.length ? "; alerts at " + marks.map((m) => m + "%").join(", ") : "") +
      (s.budget_day ? " · day " + s.budget_day + " (" + (s.timezone || "UTC") + ")" : ""));
  }

  function renderIncident(s) {
    const inc = s.incident;
    $("incident-none").hidden = !!inc;
    $("incident-facts").hidden = !inc;
    if (!inc) return;
    set("incident-duration", duration(inc.duration_seconds) + " (since " + clockTime(inc.started_at) + ")");
    set("incident-requests", String(inc.requests));
    set("incident-cost", usd(inc.cost_usd, 4));
  }

  function renderProviders(s) {
    const list = $("providers");
    // {name: {state, failures, open_until, last_error, healthy, ...}}, in chain order
    const providers = Object.entries(s.providers || {}).map(([name, p]) => ({ name, ...p }));
    if (!providers.length) {
      list.replaceChildren(el("li", { class: "muted", text: "No cloud provider configured: nothing can be diverted." }));
    } else {
      list.replaceChildren(...providers.map((p) => {
        const resting = p.state && p.state !== "closed"
          ? "breaker " + p.state.replace("_", "-") + (p.open_until ? " until " + clockTime(p.open_until) : "")
          : "";
        const errors = p.errors_last_minute ? p.errors_last_minute + " errors in the last minute" : "";
        return el("li", {},
          el("span", { class: "model-name", text: p.name }),
          el("span", { class: "health", "data-ok": String(!!p.healthy), text: p.healthy ? "✓ healthy" : "✕ failing" }),
          el("span", { class: "muted", text: [resting, errors, p.last_error || ""].filter(Boolean).join(" · ") }));
      }));
    }
    const up = s.upstream || {};
    set("upstream", (up.url || "–") + (up.version ? " (Ollama " + up.version + ")" : " (not answering)"));
  }

  function renderEvents(s) {
    const events = s.last_events || [];
    const list = $("events");
    if (!events.length) {
      list.replaceChildren(el("li", { class: "muted", text: "Nothing yet." }));
      return;
    }
    list.replaceChildren(...events.map((e) => el("li", {},
      el("time", { datetime: e.at, text: clockTime(e.at) }),
      el("span", { class: "ev-kind", text: e.kind }),
      el("span", { class: "ev-what", text: [e.who && e.source ? e.who + " via " + e.source : e.who || e.source, e.reason].filter(Boolean).join(": ") }))));
  }

  // --- live updates: the stream, else polling -----------------------------------------

  const live = { es: null, pollTimer: null, retryTimer: null, polling: false };

  function setConn(kind, text) {
    const conn = $("conn");
    conn.dataset.conn = kind;
    set("conn-text", text);
    conn.querySelector(".conn-icon").textContent = { live: "●", polling: "◐", lost: "✕", connecting: "◌" }[kind] || "◌";
  }

  function connectStream() {
    live.retryTimer = null;
    if (!("EventSource" in window)) return startPolling();
    const es = new EventSource("events");
    live.es = es;
    es.addEventListener("status", (e) => {
      stopPolling();
      setConn("live", "Live");
      render(JSON.parse(e.data));
    });
    es.onerror = () => {
      startPolling();
      if (es.readyState === EventSource.CLOSED) {
        // an HTTP error: the browser gives up on its own, so retry from here
        live.es = null;
        if (!live.retryTimer) live.retryTimer = setTimeout(connectStream, SSE_RETRY_MS);
      }
    };
  }

  function startPolling() {
    if (live.polling) return;
    live.polling = true;
    poll();
  }

  function stopPolling() {
    live.polling = false;
    clearTimeout(live.pollTimer);
  }

  async function poll() {
    if (!live.polling) return;
    try {
      const resp = await fetch("status", { cache: "no-store" });
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      const body = await resp.json();
      if (live.polling) {
        render(body);
        setConn("polling", "Live (polling; the stream is reconnecting)");
      }
    } catch (err) {
      setConn("lost", "Connection lost: reconnecting…");
    }
    if (live.polling) live.pollTimer = setTimeout(poll, POLL_MS);
  }

  setInterval(() => {
    if (lastAt && Date.now() - lastAt > STALE_MS) {
      $("hero").classList.add("stale");
      setConn("lost", "Connection lost " + duration((Date.now() - lastAt) / 1000) + " ago: reconnecting…");
    }
    if (last) { // keep the relative times and the incident clock moving between updates
      renderState(last);
      if (last.incident) {
        const inc = Object.assign({}, last.incident, {
          duration_seconds: last.incident.duration_seconds + (Date.now() - lastAt) / 1000,
        });
        renderIncident(Object.assign({}, last, { incident: inc }));
      }
    }
  }, 1000);

  // --- the button ---------------------------------------------------------------------

  function showResult(kind, text) {
    const r = $("result");
    r.dataset.kind = kind;
    r.textContent = text;
  }

  function ask(dialog, onOpen) {
    return new Promise((resolve) => {
      dialog.returnValue = "";
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
      if (onOpen) onOpen();
    });
  }

  async function token() {
    const kept = sessionStorage.getItem(TOKEN_KEY);
    if (kept) return kept;
    const input = $("token-input");
    input.value = "";
    const ok = await ask($("token-dialog"), () => input.focus());
    const value = input.value.trim();
    input.value = "";
    if (!ok || !value) return null;
    sessionStorage.setItem(TOKEN_KEY, value);
    $("forget").hidden = false;
    return value;
  }

  function confirmText(action, body) {
    const span = body.for ? " for " + body.for : " until released";
    const why = body.reason ? " Reason: \u201c" + body.reason + "\u201d." : "";
    if (action === "press") {
      return "Press the big red button" + span + "? Every eligible request goes to the cloud and costs money." + why;
    }
    if (action === "hold") {
      return "Hold off" + span + "? Nothing is diverted, however deep the local queue gets." + why;
    }
    return "Release to auto? The breaker decides again from the queue." + why;
  }

  async function act(action) {
    if (busy || !last || !(last.admin && last.admin.token_configured)) return;
    const body = { reason: $("press-reason").value.trim() };
    const name = $("press-who").value.trim();
    if (name) body.who = name;
    if (action === "press" || action === "hold") {
      const span = $("press-for").value.trim();
      if (span) body.for = span;
    }
    if (action === "hold") body.hold = true;
    const secret = await token();
    if (!secret) return showResult("error", "No token given: nothing changed.");
    $("confirm-text").textContent = confirmText(action, body);
    $("confirm-ok").textContent = { press: "Yes, press it", hold: "Yes, hold off", release: "Yes, release" }[action];
    if (!(await ask($("confirm-dialog")))) return showResult("error", "Cancelled: nothing changed.");
    busy = true;
    renderControls(last);
    showResult("pending", "Sending…");
    try {
      const resp = await fetch(action === "press" ? "press" : "release", {
        method: "POST",
        headers: { Authorization: "Bearer " + secret, "Content-Type": "application/json" },
        body: JSON.stringify(body),
        cache: "no-store",
      });
      let answer = {};
      try { answer = await resp.json(); } catch (e) { answer = {}; }
      if (resp.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        $("forget").hidden = true;
        showResult("error", "Wrong admin token: nothing changed. You will be asked again next time.");
      } else if (!resp.ok) {
        showResult("error", (answer.error || "HTTP " + resp.status) + ": nothing changed.");
      } else {
        render(answer);
        const what = { on: "Pressed", off: "Held off", auto: "Released to auto" }[answer.mode] || answer.mode;
        const until = answer.override_until ? " until " + clockTime(answer.override_until) : "";
        showResult("ok", answer.changed ? what + until + "." : "Already so: nothing changed (logged).");
      }
    } catch (err) {
      showResult("error", "Could not reach the daemon: nothing changed (" + err.message + ").");
    } finally {
      busy = false;
      if (last) renderControls(last);
    }
  }

  // Cancel is not a submit button: Enter in the token field must use the token, not cancel
  for (const b of document.querySelectorAll("dialog [data-cancel]")) {
    b.addEventListener("click", () => b.closest("dialog").close("cancel"));
  }
  $("press-form").addEventListener("submit", (e) => { e.preventDefault(); act("press"); });
  $("release").addEventListener("click", () => act("release"));
  $("hold").addEventListener("click", () => act("hold"));
  $("press-who").value = localStorage.getItem(NAME_KEY) || "";
  $("press-who").addEventListener("change", () => localStorage.setItem(NAME_KEY, $("press-who").value.trim()));
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $("forget").hidden = true;
    showResult("ok", "Token forgotten: you will be asked again.");
  });

  connectStream();
  startPolling(); // until the stream's first snapshot arrives
})();
