// The browser half of the brain's web dashboard: renders every page from the server's JSON, keeps it live over Server-Sent Events and sends the actions (cancel, retry, run a tool).
"use strict";

(() => {
  const FINISHED = new Set(["completed", "failed", "cancelled"]);
  const STATUSES = ["pending", "processing", "completed", "failed", "cancelled"];
  const SOURCES = ["cli", "mcp", "matrix", "web", "system"];
  const enc = encodeURIComponent;
  const nf = new Intl.NumberFormat("en-US");
  const isDone = (op) => FINISHED.has(op.status);
  const opUrl = (id) => `/ops/${enc(id)}`;
  const pretty = (v) => JSON.stringify(v, null, 2) ?? "null";
  // Outcomes of cancel/retry by op id: cards are rebuilt on every event and must keep showing them.
  const notes = new Map();

  // ---- building nodes (never HTML strings: labels and errors may contain markup)

  function build(node, attrs, children) {
    for (const c of children.flat(Infinity)) {
      if (c != null && c !== false && c !== "") node.append(c instanceof Node ? c : String(c));
    }
    // Attributes after children, so a select's value can pick one of its options.
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (typeof v === "function") node.addEventListener(k.replace(/^on/, ""), v);
      else if (k === "style") Object.assign(node.style, v); // CSSOM, which a strict CSP allows
      else if (k === "value" || k === "checked") node[k] = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    return node;
  }
  const el = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
  const svg = (tag, attrs, ...children) =>
    build(document.createElementNS("http://www.w3.org/2000/svg", tag), attrs, children);

  const errorLine = (text) => el("p", { class: "error", "data-testid": "error", role: "alert" }, text);
  const showError = (box, err) => box.replaceChildren(...(err ? [errorLine(err.message)] : []));
  const table = (heads, rows, cls) =>
    el("div", { class: "scroll" },
      el("table", { class: cls }, el("thead", {}, el("tr", {}, heads.map((h) => el("th", { scope: "col" }, h)))), rows));
  const fact = (name, value, show = (v) => v) =>
    value == null || value === "" ? null : [el("dt", {}, name), el("dd", {}, show(value))];

  // ---- talking to the server

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (method !== "GET") {
      headers["Content-Type"] = "application/json";
      headers["X-CSRF-Token"] = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
      init.body = JSON.stringify(body ?? {});
    }
    const res = await fetch(path, init);
    const data = await res.json().catch(() => null);
    if (res.status === 401) location.assign("/login"); // the session ended; signing in again is the only way on
    if (!res.ok) throw new Error(data?.error || `${res.status} ${res.statusText}`.trim());
    if (data === null) throw new Error(`${path} did not answer with JSON`);
    return data;
  }

  // EventSource reconnects by itself, but changes made while it was away are never sent again: the
  // page's JSON is loaded on the first open and on every open after an error. A stream that does
  // not open within a second must not keep the page empty, so a first load happens anyway.
  function live(path, onEvent, reload) {
    let stale = true;
    const fallback = setTimeout(reload, 1000);
    const connect = () => {
      const es = new EventSource(path);
      es.addEventListener("open", () => {
        clearTimeout(fallback);
        document.body.dataset.live = "open";
        if (stale) { stale = false; reload(); }
      });
      es.addEventListener("error", () => {
        document.body.dataset.live = "closed";
        stale = true;
        // CLOSED means the browser gave up (e.g. a 502 while the server restarts); retry ourselves.
        if (es.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
      });
      for (const name of ["ops", "stats"]) {
        es.addEventListener(name, (e) => {
          let msg;
          try { msg = JSON.parse(e.data); } catch { return; }
          onEvent(name, msg);
        });
      }
    };
    connect();
  }

  // Events that arrive while the JSON loads may be older or newer than it; they are replayed over
  // it afterwards marked `cautious`, so handlers can refuse a state that would undo the snapshot.
  // Only the newest of overlapping loads is shown.
  function sync(events, load, show, handlers) {
    let gen = 0, queue = null;
    const reload = async () => {
      const mine = ++gen;
      queue = queue || [];
      let data = null, error = null;
      try { data = await load(); } catch (e) { error = e; }
      if (mine !== gen) return;
      const missed = queue;
      queue = null;
      show(data, error);
      for (const [name, msg] of missed) handlers[name]?.(msg, true);
    };
    live(events, (name, msg) => (queue ? queue.push([name, msg]) : handlers[name]?.(msg, false)), reload);
    return reload;
  }

  const stage = (op) => (isDone(op) ? 2 : op.status === "processing" ? 1 : 0);
  const behind = (old, op) =>
    stage(op) < stage(old) ||
    (stage(op) === stage(old) && (op.progress?.current ?? 0) < (old.progress?.current ?? 0));

  // ---- times

  function dur(ms) {
    if (ms == null || !Number.isFinite(ms)) return "–";
    ms = Math.max(0, ms);
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = ms / 1000;
    if (s < 10) return `${+s.toFixed(1)} s`;
    if (s < 60) return `${Math.floor(s)} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
    const h = Math.floor(m / 60);
    if (h < 24) return `${h} h ${m % 60} min`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
  }

  function rel(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return String(iso);
    const d = (t - Date.now()) / 1000, a = Math.abs(d);
    if (a < 1) return "just now";
    const text = a < 60 ? `${Math.floor(a)} s` : a < 3600 ? `${Math.floor(a / 60)} min`
      : a < 86400 ? `${Math.floor(a / 3600)} h` : `${Math.floor(a / 86400)} d`;
    return d < 0 ? `${text} ago` : `in ${text}`;
  }

  function timeText(iso, format) {
    if (format === "elapsed") return dur(Date.now() - Date.parse(iso));
    if (format === "left") {
      const ms = Date.parse(iso) - Date.now();
      return ms > 0 ? `~${dur(Math.ceil(ms / 1000) * 1000)} left` : "finishing…";
    }
    return rel(iso);
  }

  // A time that the one-second ticker keeps current: relative, elapsed since, or left until.
  const when = (iso, format = "rel") =>
    iso ? el("time", { datetime: iso, title: iso, "data-time": iso, "data-format": format }, timeText(iso, format)) : "–";

  const tick = () => {
    for (const n of document.querySelectorAll("[data-time]")) n.textContent = timeText(n.dataset.time, n.dataset.format);
  };

  const clockTime = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

  // ---- pieces of an op

  const badge = (status, hook = true) =>
    el("span", { class: `status s-${status}`, "data-testid": hook ? "status" : null }, status);

  const opLink = (op) => el("a", { href: opUrl(op.id), class: "name", title: op.id }, op.label || op.id);

  const metaLine = (op) =>
    el("p", { class: "meta" }, [op.type === "batch" && "batch", op.jobType, op.source].filter(Boolean).join(" · "),
      op.label && [" ", el("code", {}, op.id)]);

  function progressBar(op, compact) {
    const p = op.progress;
    // A cancelled batch's counts would read as work done; the status says enough.
    if (!p || (op.type === "batch" && op.status === "cancelled")) return null;
    const pct = p.total > 0 ? (100 * p.current) / p.total : p.percentage || 0;
    return el("div", {
      class: `progress s-${op.status}${compact ? " compact" : ""}`, "data-testid": "progress",
      "data-current": p.current, "data-total": p.total,
      role: "progressbar", "aria-valuemin": 0, "aria-valuemax": p.total, "aria-valuenow": p.current,
    },
    el("span", { class: "track" }, el("span", { class: "fill", style: { width: `${Math.min(100, Math.max(0, pct))}%` } })),
    el("span", { class: "count" }, `${p.current}/${p.total}`));
  }

  // What the op waits for, or when it should be done.
  function outlook(op) {
    if (isDone(op)) return [];
    const lines = [];
    if (op.waitingForWorker) lines.push(el("p", { class: "waiting" }, "waiting for a worker"));
    else if (op.estimatedCompletionMs != null) {
      lines.push(el("p", { class: "eta" }, when(new Date(Date.now() + op.estimatedCompletionMs).toISOString(), "left")));
    } else if (op.estimatedCompletion) lines.push(el("p", { class: "eta" }, `~${op.estimatedCompletion} left`));
    for (const w of op.waitingFor || []) {
      const extra = [w.label, w.progress && `${w.progress.current}/${w.progress.total}`].filter(Boolean);
      lines.push(el("p", { class: "waiting" }, "waiting for ", el("a", { href: opUrl(w.id) }, w.id),
        extra.length ? ` (${extra.join(", ")})` : ""));
    }
    return lines;
  }

  const opDuration = (op) =>
    isDone(op) ? dur(op.elapsedMs ?? Date.parse(op.finishedAt) - Date.parse(op.startedAt))
      : op.startedAt ? when(op.startedAt, "elapsed") : "–";

  const clock = (op) =>
    isDone(op) ? ["finished ", when(op.finishedAt), op.elapsedMs != null && ` · took ${dur(op.elapsedMs)}`]
      : op.startedAt ? ["elapsed ", when(op.startedAt, "elapsed")] : ["queued ", when(op.createdAt)];

  function errorSummary(op) {
    const errs = op.errors || [];
    if (!errs.length) return op.status === "failed" ? op.message : "";
    const first = errs[0];
    return `${first.label || first.jobId}: ${first.error}${errs.length > 1 ? ` (+${errs.length - 1} more)` : ""}`;
  }

  function actionButton(text, what, op, question, after) {
    return el("button", {
      type: "button", class: what, "data-testid": what,
      onclick: async (e) => {
        if (question && !window.confirm(question)) return;
        e.currentTarget.disabled = true;
        try { notes.set(op.id, { text: (await api("POST", `/api/ops/${enc(op.id)}/${what}`, {})).text }); }
        catch (err) { notes.set(op.id, { error: err.message }); }
        after();
      },
    }, text);
  }

  // Cancel while unfinished, retry when failed or when a batch has failed items; `items` is known on the op page only.
  function actions(op, can, items, after) {
    const batch = op.type === "batch";
    const buttons = [];
    if (can.cancel && !isDone(op)) {
      const left = op.progress ? op.progress.total - op.progress.current : null;
      buttons.push(actionButton("Cancel", "cancel", op,
        batch && (left != null ? `Cancel ${left} items?` : "Cancel this batch?"), after));
    }
    const failed = items ? items.filter((i) => i.status === "failed").length : (op.errors || []).length;
    if (can.retry && (op.status === "failed" || (batch && failed > 0))) {
      buttons.push(actionButton("Retry", "retry", op,
        batch && (failed ? `Retry ${failed} failed items?` : "Retry this batch?"), after));
    }
    const note = notes.get(op.id);
    if (!buttons.length && !note) return null;
    return el("div", { class: "actions" }, buttons,
      note?.error && errorLine(note.error), note?.text && el("p", { class: "note" }, note.text));
  }

  const opCard = (op, can, after) =>
    el("article", { class: `card op s-${op.status}`, "data-testid": "op", "data-id": op.id, "data-status": op.status },
      el("div", { class: "card-head" }, opLink(op), badge(op.status)),
      metaLine(op),
      progressBar(op),
      !isDone(op) && op.currentOperation && el("p", { class: "current" }, op.currentOperation),
      outlook(op),
      el("p", { class: "clock" }, clock(op)),
      actions(op, can, null, after));

  const opRow = (op) =>
    el("tr", { "data-testid": "op", "data-id": op.id, "data-status": op.status },
      el("td", { class: "id" }, el("a", { href: opUrl(op.id) }, op.id)),
      el("td", { class: "label" }, op.label || ""),
      el("td", {}, op.jobType || op.type),
      el("td", {}, op.source),
      el("td", {}, badge(op.status)),
      el("td", {}, progressBar(op, true)),
      el("td", {}, when(op.createdAt)),
      el("td", {}, opDuration(op)));

  // ---- charts: SVG stretched to its box, labels in HTML so they stay legible at any width

  const chartFrame = (cls, top, chart, axis, caption, testid) =>
    el("figure", { class: `chart ${cls}`, "data-testid": testid },
      top && el("div", { class: "ymax" }, top), chart,
      el("div", { class: "axis" }, axis.map((a) => el("span", {}, a))),
      caption && el("figcaption", {}, caption));

  function minuteChart(minutes) {
    const w = 10, H = 100, n = Math.max(1, minutes.length);
    const max = Math.max(1, ...minutes.map((m) => m.completed + m.failed));
    const total = (k) => minutes.reduce((sum, m) => sum + (m[k] || 0), 0);
    const caption = `${nf.format(total("completed"))} completed · ${nf.format(total("failed"))} failed in the last hour`;
    const bars = minutes.map((m, i) => {
      const hc = (m.completed / max) * H, hf = (m.failed / max) * H;
      return svg("g", {},
        svg("title", {}, `${clockTime(m.minute)}: ${m.completed} completed, ${m.failed} failed`),
        svg("rect", { class: "hit", x: i * w, y: 0, width: w, height: H }),
        hc > 0 && svg("rect", { class: "completed", x: i * w + 1, y: H - hc, width: w - 2, height: hc }),
        hf > 0 && svg("rect", { class: "failed", x: i * w + 1, y: H - hc - hf, width: w - 2, height: hf }));
    });
    const plot = svg("svg", { viewBox: `0 0 ${n * w} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": caption },
      svg("line", { class: "base", x1: 0, x2: n * w, y1: H, y2: H, "vector-effect": "non-scaling-stroke" }), bars);
    return chartFrame("minutes", `${max} / min`, plot, ["-60 min", "-30 min", "now"], caption);
  }

  function timeline(items) {
    const started = items.filter((i) => i.startedAt).sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
    const shown = started.slice(0, 200);
    const waiting = items.length - started.length;
    if (!shown.length) {
      return el("figure", { class: "chart timeline", "data-testid": "timeline" }, el("p", { class: "empty" }, "No item has started yet."));
    }
    const now = Date.now();
    const start = (i) => Date.parse(i.startedAt);
    const end = (i) => (i.finishedAt ? Date.parse(i.finishedAt) : isDone(i) ? start(i) : now);
    const t0 = Math.min(...shown.map(start));
    const span = Math.max(1, Math.max(...shown.map(end)) - t0);
    const W = 1000, row = 10;
    const bars = shown.map((it, k) =>
      svg("rect", {
        class: `s-${it.status}`, x: ((start(it) - t0) / span) * W, y: k * row + 1,
        width: Math.max(2, ((end(it) - start(it)) / span) * W), height: row - 2,
      }, svg("title", {}, `${it.label || it.id}: ${it.status}, ${dur(end(it) - start(it))}`)));
    const plot = svg("svg", {
      viewBox: `0 0 ${W} ${shown.length * row}`, preserveAspectRatio: "none", role: "img",
      "aria-label": `Timeline of ${shown.length} items`, style: { height: `${Math.min(320, Math.max(40, shown.length * 14))}px` },
    }, bars);
    const notesText = [
      started.length > shown.length && `Showing the first ${shown.length} of ${started.length} started items.`,
      waiting > 0 && `${waiting} not started yet.`,
    ].filter(Boolean).join(" ");
    return chartFrame("timeline", null, plot, ["0 s", dur(span)], notesText, "timeline");
  }

  function estimateChart(runs) {
    if (!runs.length) return el("p", { class: "empty" }, "No recent runs.");
    const w = 10, H = 100;
    const max = Math.max(1, ...runs.flatMap((r) => [r.tookMs, r.estimatedMs ?? 0]));
    const y = (ms) => H - (ms / max) * H;
    const marks = runs.map((r, i) => {
      const off = r.estimatedMs ? Math.abs(r.tookMs - r.estimatedMs) / r.estimatedMs : null;
      return svg("g", {},
        svg("title", {}, `${r.id}: took ${dur(r.tookMs)}` +
          (r.estimatedMs != null ? `, estimated ${dur(r.estimatedMs)}${off != null ? ` (off by ${Math.round(off * 100)}%)` : ""}` : ", no estimate")),
        svg("rect", { class: "hit", x: i * w, y: 0, width: w, height: H }),
        svg("rect", { class: "took", x: i * w + 2, y: y(r.tookMs), width: w - 4, height: H - y(r.tookMs) }),
        r.estimatedMs != null && svg("line", { class: "guess", x1: i * w, x2: i * w + w, y1: y(r.estimatedMs), y2: y(r.estimatedMs), "vector-effect": "non-scaling-stroke" }));
    });
    const errs = runs.filter((r) => r.estimatedMs > 0).map((r) => Math.abs(r.tookMs - r.estimatedMs) / r.estimatedMs);
    const caption = errs.length
      ? `Mean error |took − estimate| / estimate: ${Math.round((100 * errs.reduce((a, b) => a + b, 0)) / errs.length)}% over ${errs.length} runs`
      : "None of these runs had an estimate.";
    const plot = svg("svg", { viewBox: `0 0 ${runs.length * w} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": caption }, marks);
    return [
      el("p", { class: "legend" }, el("span", { class: "key took" }), "took ", el("span", { class: "key guess" }), "estimated"),
      chartFrame("estimate", dur(max), plot, ["oldest", "newest"], caption),
    ];
  }

  // ---- pages

  function overview(app) {
    const s = { active: [], recent: [], workers: [], minutes: [], can: {}, recentMax: 20 };
    const banner = el("div");
    const active = el("section", { class: "panel active", "data-testid": "active" });
    const chart = el("section", { class: "panel", "data-testid": "chart" });
    const workers = el("section", { class: "panel", "data-testid": "workers" });
    const recent = el("section", { class: "panel recent", "data-testid": "recent" });
    app.append(banner, el("div", { class: "overview" }, active, chart, workers, recent));

    const drawOps = () => {
      active.replaceChildren(el("h2", {}, "Active operations ", el("span", { class: "count" }, s.active.length)),
        s.active.length ? el("div", { class: "cards" }, s.active.map((op) => opCard(op, s.can, drawOps)))
          : el("p", { class: "empty" }, "Nothing is queued or running."));
      recent.replaceChildren(el("h2", {}, "Recently finished"),
        s.recent.length ? table(["Operation", "Status", "Items", "Finished", "Duration", "Error"], el("tbody", {}, s.recent.map((op) => {
          const err = errorSummary(op);
          return el("tr", { "data-testid": "op", "data-id": op.id, "data-status": op.status },
            el("td", { class: "label" }, opLink(op)), el("td", {}, badge(op.status)), el("td", {}, progressBar(op, true)),
            el("td", {}, when(op.finishedAt)), el("td", {}, opDuration(op)), el("td", { class: "err", title: err || null }, err));
        }))) : el("p", { class: "empty" }, "Nothing has finished yet."));
    };
    const drawStats = () => {
      chart.replaceChildren(el("h2", {}, "Last hour"), minuteChart(s.minutes));
      workers.replaceChildren(el("h2", {}, "Workers"),
        s.workers.length ? table(["Host", "PID", "Concurrency", "Job types", "Started", "Last seen"], el("tbody", {}, s.workers.map((w) =>
          el("tr", { "data-id": w.id }, el("td", {}, w.host), el("td", {}, w.pid), el("td", {}, w.concurrency),
            el("td", { class: "types" }, (w.jobTypes || []).length ? w.jobTypes.join(", ") : "all"),
            el("td", {}, when(w.startedAt)), el("td", {}, when(w.lastSeenAt))))))
          : el("p", { class: "empty" }, "No worker is running."));
    };

    // An op lives in one list at a time: active until it finishes, then recent (a retry moves it back).
    const upsert = (op, cautious) => {
      const old = s.active.find((o) => o.id === op.id) || s.recent.find((o) => o.id === op.id);
      if (old && cautious && behind(old, op)) return;
      const [from, to] = isDone(op) ? [s.active, s.recent] : [s.recent, s.active];
      const gone = from.findIndex((o) => o.id === op.id);
      if (gone >= 0) from.splice(gone, 1);
      const at = to.findIndex((o) => o.id === op.id);
      if (at >= 0) to[at] = op;
      else to.push(op);
    };
    // The server's order: the stream's first message replays every known op, older ones included.
    const order = () => {
      const newest = (key) => (a, b) => (Date.parse(b[key]) || 0) - (Date.parse(a[key]) || 0);
      s.active.sort(newest("createdAt"));
      s.recent.sort(newest("finishedAt"));
      if (s.recent.length > s.recentMax) s.recent.length = s.recentMax;
    };

    sync("/api/events", () => api("GET", "/api/overview"), (d, err) => {
      showError(banner, err);
      if (!d) return;
      Object.assign(s, {
        active: d.active || [], recent: d.recent || [], workers: d.workers || [], minutes: d.minutes || [],
        can: d.can || {}, recentMax: Math.max(20, (d.recent || []).length),
      });
      drawOps();
      drawStats();
    }, {
      ops: ({ ops = [] }, cautious) => { ops.forEach((op) => upsert(op, cautious)); order(); drawOps(); },
      stats: (m) => {
        if (m.workers) s.workers = m.workers;
        if (m.minutes) s.minutes = m.minutes;
        drawStats();
      },
    });
  }

  function opsPage(app) {
    const KEYS = ["status", "type", "source", "since", "until", "q"];
    const isTime = (k) => k === "since" || k === "until";
    const isoOf = (v) => { const d = new Date(v); return Number.isNaN(d.getTime()) ? v : d.toISOString(); };
    const pad = (n) => String(n).padStart(2, "0");
    const localInput = (iso) => {
      const d = new Date(iso);
      if (!iso || Number.isNaN(d.getTime())) return "";
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
    };
    const choice = (name, values) =>
      el("select", { name, id: `f-${name}` }, el("option", { value: "" }, "any"), values.map((v) => el("option", { value: v }, v)));
    const field = (label, control) => el("div", { class: "field" }, el("label", { for: control.id }, label), control);

    const typeSelect = choice("type", []);
    const form = el("form", { class: "card filters", "data-testid": "filters", novalidate: true, onsubmit: (e) => { e.preventDefault(); apply(); } },
      field("Status", choice("status", STATUSES)),
      field("Type", typeSelect),
      field("Source", choice("source", SOURCES)),
      field("Since", el("input", { type: "datetime-local", name: "since", id: "f-since" })),
      field("Until", el("input", { type: "datetime-local", name: "until", id: "f-until" })),
      field("Search", el("input", { type: "search", name: "q", id: "f-q", placeholder: "label or error" })),
      el("div", { class: "buttons" }, el("button", { type: "submit", class: "primary" }, "Filter"), el("a", { class: "button", href: "/ops" }, "Clear")));
    const errBox = el("div");
    const tbody = el("tbody");
    const older = el("button", { type: "button", "data-testid": "older", hidden: true, onclick: () => more() }, "Older");
    const shown = new Map();
    let next = null;
    app.append(el("h1", {}, "Operations"), form, errBox,
      el("section", { class: "panel" }, table(["ID", "Label", "Type", "Source", "Status", "Progress", "Created", "Duration"], tbody, "ops"),
        el("div", { class: "more" }, older)));

    // The URL holds the filters (times as ISO, as the API takes them), so reload and back work.
    const fill = () => {
      const p = new URLSearchParams(location.search);
      for (const k of KEYS) {
        const f = form.elements[k], v = p.get(k) || "";
        if (f.tagName === "SELECT" && v && ![...f.options].some((o) => o.value === v)) f.append(el("option", { value: v }, v));
        f.value = isTime(k) ? localInput(v) : v;
      }
    };
    const apiQuery = (before) => {
      const p = new URLSearchParams(location.search);
      for (const k of ["since", "until"]) if (p.get(k)) p.set(k, isoOf(p.get(k)));
      if (before) p.set("before", before);
      return `/api/ops${p.toString() ? `?${p}` : ""}`;
    };
    const apply = () => {
      const p = new URLSearchParams();
      for (const k of KEYS) {
        const v = form.elements[k].value.trim();
        if (v) p.set(k, isTime(k) ? isoOf(v) : v);
      }
      const limit = new URLSearchParams(location.search).get("limit");
      if (limit) p.set("limit", limit);
      const url = `/ops${p.toString() ? `?${p}` : ""}`;
      if (url !== location.pathname + location.search) history.pushState(null, "", url);
      reload();
    };
    const add = (d) => {
      tbody.querySelector("tr.empty")?.remove();
      for (const op of d.ops || []) { shown.set(op.id, op); tbody.append(opRow(op)); }
      if (!tbody.children.length) tbody.append(el("tr", { class: "empty" }, el("td", { colspan: 8 }, "No operation matches.")));
      next = d.next || null;
      older.hidden = !next;
    };
    const more = async () => {
      older.disabled = true;
      try { add(await api("GET", apiQuery(next))); showError(errBox, null); }
      catch (e) { showError(errBox, e); }
      finally { older.disabled = false; }
    };

    fill();
    addEventListener("popstate", () => { fill(); reload(); });
    api("GET", "/api/overview").then((o) => {
      const v = typeSelect.value;
      for (const t of o.jobTypes || []) {
        if (![...typeSelect.options].some((x) => x.value === t)) typeSelect.append(el("option", { value: t }, t));
      }
      typeSelect.value = v;
    }, () => {});
    const reload = sync("/api/events", () => api("GET", apiQuery()), (d, err) => {
      showError(errBox, err);
      shown.clear();
      tbody.replaceChildren();
      add(d || { ops: [], next: null });
    }, {
      // Rows already listed follow their op; new ops are not inserted, as they may not match the filters.
      ops: ({ ops = [] }, cautious) => {
        for (const op of ops) {
          const old = shown.get(op.id);
          if (!old || (cautious && behind(old, op))) continue;
          shown.set(op.id, op);
          tbody.querySelector(`tr[data-id="${CSS.escape(op.id)}"]`)?.replaceWith(opRow(op));
        }
      },
    });
  }

  function opPage(app, id) {
    let d = null, can = { cancel: true, retry: true }, askedCan = false, last = 0, timer = 0;
    let summary = el("div");
    const banner = el("div");

    const drawSummary = () => {
      if (!d) return;
      const op = d.op;
      const node = el("section", { class: `card op summary s-${op.status}`, "data-testid": "op", "data-id": op.id, "data-status": op.status },
        el("div", { class: "card-head" }, badge(op.status), op.message && el("span", { class: "message" }, op.message)),
        progressBar(op),
        !isDone(op) && op.currentOperation && el("p", { class: "current" }, op.currentOperation),
        outlook(op),
        el("dl", { class: "facts" },
          fact("Created", op.createdAt, when), fact("Started", op.startedAt, when), fact("Finished", op.finishedAt, when),
          op.startedAt && fact(isDone(op) ? "Took" : "Elapsed", op, opDuration),
          fact("Rescued", op.rescued || null, (n) => `${n}× from a stopped worker`)),
        actions(op, can, d.items, () => { drawSummary(); reload(); }));
      summary.replaceWith(node);
      summary = node;
    };

    const jobParts = (j) => [
      el("section", { class: "card" }, el("h2", {}, "Job"), el("dl", { class: "facts" },
        fact("Type", j.jobType), fact("Attempt", `${j.attempt} of ${j.maxAttempts}`),
        fact("Queued", j.createdAt, when), j.scheduledAt !== j.createdAt && fact("Scheduled", j.scheduledAt, when),
        fact("Started", j.startedAt, when), fact("Finished", j.finishedAt, when),
        fact("Queue wait", j.queueWaitMs, dur), fact("Duration", j.durationMs, dur),
        fact("Estimate", j.estimatedMs, (ms) => `${dur(ms)} given${j.durationMs != null ? `, took ${dur(j.durationMs)}` : ""}`),
        fact("Worker", j.workerId), fact("Batch", j.batchId, (b) => el("a", { href: opUrl(b) }, b)), fact("Source", j.source))),
      el("section", { class: "card" }, el("h2", {}, "Input"),
        j.inputHidden ? el("p", { class: "muted" }, "hidden by configuration") : el("pre", {}, pretty(j.input))),
      j.error != null ? el("section", { class: "card" }, el("h2", {}, "Error"), el("pre", { class: "error-text" }, j.error))
        : j.result !== undefined ? el("section", { class: "card" }, el("h2", {}, "Result"), el("pre", {}, pretty(j.result)))
          : null,
    ];

    const batchParts = (items, truncated) => [
      el("section", { class: "card" }, el("h2", {}, "Timeline"), timeline(items)),
      el("section", { class: "card" }, el("h2", {}, `Items (${items.length})`),
        truncated && el("p", { class: "note" }, `Only the first ${items.length} items are listed.`),
        items.length ? table(["Item", "Status", "Attempts", "Duration", "Error"], el("tbody", {}, items.map((it) =>
          el("tr", { "data-testid": "item", "data-id": it.id, "data-status": it.status },
            el("td", { class: "label" }, el("a", { href: opUrl(it.id), title: it.id }, it.label || it.id)),
            el("td", {}, badge(it.status, false)), el("td", {}, `${it.attempt}/${it.maxAttempts}`),
            el("td", {}, it.durationMs != null ? dur(it.durationMs) : it.startedAt && !isDone(it) ? when(it.startedAt, "elapsed") : "–"),
            el("td", { class: "err" }, it.error || ""))))) : el("p", { class: "empty" }, "No items.")),
    ];

    const logPart = (log) =>
      el("section", { class: "card" }, el("h2", {}, "Log"),
        log.length ? table(["Time", "Job", "Attempt", "Kind", "Message"], el("tbody", {}, log.map((l) =>
          el("tr", {}, el("td", {}, when(l.at)), el("td", { title: l.jobId }, l.label || l.jobId), el("td", {}, l.attempt),
            el("td", {}, l.kind), el("td", { class: "msg" }, l.message))))) : el("p", { class: "empty" }, "Nothing logged yet."));

    const draw = () => {
      const op = d.op;
      summary = el("div");
      app.replaceChildren(banner,
        el("header", { class: "op-head" }, el("h1", {}, op.label || op.id), metaLine(op)),
        summary,
        ...(op.type === "batch" ? batchParts(d.items || [], d.itemsTruncated) : d.job ? jobParts(d.job) : []),
        logPart(d.log || []));
      drawSummary();
    };

    // At most one refetch a second while events arrive; the timer set by the last event fetches the final state.
    const soon = () => {
      if (!timer) timer = setTimeout(() => { timer = 0; reload(); }, Math.max(0, last + 1000 - Date.now()));
    };
    const reload = sync(`/api/events?id=${enc(id)}`, () => { last = Date.now(); return api("GET", `/api/ops/${enc(id)}`); }, (data, err) => {
      showError(banner, err);
      if (!data) { if (!d) app.replaceChildren(banner); return; }
      d = data;
      if (d.can) can = d.can;
      else if (!askedCan) {
        // /api/ops/{id} does not say what the caller may do; the overview does.
        askedCan = true;
        api("GET", "/api/overview").then((o) => { if (o.can) { can = o.can; drawSummary(); } }, () => {});
      }
      draw();
    }, {
      ops: ({ ops = [] }, cautious) => {
        const op = ops.find((o) => o.id === id);
        if (!op || !d || (cautious && behind(d.op, op))) return;
        const changed = op.status !== d.op.status;
        d.op = op;
        drawSummary();
        if (op.type === "batch" || changed) soon();
      },
    });
  }

  function estimates(app) {
    const box = el("div");
    app.append(el("h1", {}, "Estimates"),
      el("p", { class: "muted" }, "How long each job type takes as the queue has learned it, and how close its recent estimates came."), box);
    api("GET", "/api/estimates").then(({ types = [] }) => {
      if (!types.length) return box.append(el("p", { class: "empty" }, "No job has finished yet."));
      box.append(el("div", { class: "estimates" }, types.map((t) =>
        el("section", { class: "card" }, el("h2", {}, t.jobType),
          table(["Mean", "Spread", "Samples"], el("tbody", {}, el("tr", {},
            el("td", {}, dur(t.meanMs)), el("td", {}, `± ${dur(t.spreadMs)}`), el("td", {}, nf.format(t.samples))))),
          estimateChart(t.recent || [])))));
    }, (e) => showError(box, e));
  }

  function inputFor(name, s, required) {
    const id = `in-${name}`;
    const type = [].concat(s.type ?? (s.enum ? "string" : "object")).find((t) => t !== "null");
    let control, read;
    if (Array.isArray(s.enum)) {
      control = el("select", { id, name, required, value: s.default != null ? String(s.default) : null },
        !required && el("option", { value: "" }, "—"), s.enum.map((v) => el("option", { value: String(v) }, String(v))));
      read = () => (control.value === "" ? undefined : s.enum.find((v) => String(v) === control.value));
    } else if (type === "boolean") {
      control = el("input", { type: "checkbox", id, name, checked: s.default === true });
      // Unchanged and optional: leave it to the tool's default.
      read = () => (required || control.checked !== (s.default === true) ? control.checked : undefined);
    } else if (type === "integer" || type === "number") {
      control = el("input", { type: "number", id, name, required, step: type === "integer" ? 1 : "any", min: s.minimum, max: s.maximum, value: s.default ?? "" });
      read = () => {
        const v = control.value.trim();
        if (!v) return undefined;
        const n = Number(v);
        if (!Number.isFinite(n) || (type === "integer" && !Number.isInteger(n))) throw new Error(`${name}: ${type === "integer" ? "a whole number" : "a number"} is needed`);
        return n;
      };
    } else if (type === "string") {
      control = el("input", { type: "text", id, name, required, value: s.default ?? "" });
      read = () => (control.value === "" ? undefined : control.value);
    } else if (type === "array" && [].concat(s.items?.type).includes("string")) {
      control = el("input", { type: "text", id, name, required, placeholder: "comma-separated", value: (s.default || []).join(", ") });
      read = () => {
        const list = control.value.split(",").map((x) => x.trim()).filter(Boolean);
        return list.length || required ? list : undefined;
      };
    } else {
      control = el("textarea", { id, name, required, rows: 4, placeholder: type === "array" ? "[ … ] as JSON" : "{ … } as JSON", value: s.default !== undefined ? pretty(s.default) : "" });
      read = () => {
        const v = control.value.trim();
        if (!v) return undefined;
        try { return JSON.parse(v); } catch (e) { throw new Error(`${name}: not valid JSON (${e.message})`); }
      };
    }
    const label = el("label", { for: id }, name, required && el("abbr", { class: "req", title: "required" }, " *"));
    const help = s.description && el("small", { class: "help" }, s.description);
    return { name, read, node: el("div", { class: type === "boolean" ? "field check" : "field" }, type === "boolean" ? [control, label] : [label, control], help) };
  }

  function toolForm(tool) {
    const schema = tool.inputSchema || {};
    const required = new Set(schema.required || []);
    const fields = Object.entries(schema.properties || {}).map(([n, s]) => inputFor(n, s || {}, required.has(n)));
    const out = el("div", { class: "outcome", "aria-live": "polite" });
    const submit = el("button", { type: "submit", class: "primary", "data-testid": "submit" }, tool.startsWork ? "Start" : "Run");
    const onsubmit = async (e) => {
      e.preventDefault();
      const input = {};
      try {
        for (const f of fields) { const v = f.read(); if (v !== undefined) input[f.name] = v; }
      } catch (err) { return out.replaceChildren(errorLine(err.message)); }
      submit.disabled = true;
      out.replaceChildren();
      try {
        const r = await api("POST", `/api/tools/${enc(tool.name)}`, input);
        if (r.jobId) return location.assign(opUrl(r.jobId));
        out.replaceChildren(el("pre", { class: "result" }, r.text ?? pretty(r)));
      } catch (err) { out.replaceChildren(errorLine(err.message)); }
      finally { submit.disabled = false; }
    };
    return el("form", { class: "card tool-form", "data-testid": "tool-form", onsubmit },
      el("h2", {}, tool.name), tool.plugin && el("p", { class: "meta" }, `from ${tool.plugin}`),
      tool.description && el("p", { class: "description" }, tool.description),
      fields.length ? fields.map((f) => f.node) : el("p", { class: "muted" }, "This tool takes no input."),
      el("div", { class: "buttons" }, submit), out);
  }

  function start(app) {
    const box = el("div");
    app.append(el("h1", {}, "Start"), box);
    api("GET", "/api/tools").then(({ tools = [] }) => {
      if (!tools.length) return box.append(el("p", { class: "empty" }, "There is no tool you may run."));
      const group = (label, list) => list.length > 0 && el("optgroup", { label }, list.map((t) => el("option", { value: t.name }, t.name)));
      const wanted = new URLSearchParams(location.search).get("tool");
      const select = el("select", { id: "tool", "data-testid": "tool", value: tools.some((t) => t.name === wanted) ? wanted : null },
        group("Starts work", tools.filter((t) => t.startsWork)), group("Answers at once", tools.filter((t) => !t.startsWork)));
      const body = el("div");
      const draw = () => body.replaceChildren(toolForm(tools.find((t) => t.name === select.value)));
      select.addEventListener("change", () => { history.replaceState(null, "", `/start?tool=${enc(select.value)}`); draw(); });
      box.append(el("div", { class: "field tool-pick" }, el("label", { for: "tool" }, "Tool"), select), body);
      draw();
    }, (e) => showError(box, e));
  }

  // A plain form post: the server answers with a redirect and a session cookie, which fetch would not follow into a page.
  function login(app) {
    const error = document.getElementById("login-error");
    const failed = !!error?.textContent.trim();
    if (failed) error.setAttribute("data-testid", "error");
    else error?.remove();
    const secret = el("input", { type: "password", id: "secret", name: "secret", required: true, autocomplete: "current-password" });
    app.append(el("form", { class: "card login", method: "post", action: "/login" },
      el("h1", {}, "Sign in"), el("label", { for: "secret" }, "Secret"), secret, failed && error,
      el("button", { type: "submit", class: "primary", "data-testid": "submit" }, "Sign in")));
    secret.focus();
  }

  // ---- start

  const PAGES = { overview, ops: opsPage, op: opPage, estimates, start, login };
  const page = document.body.dataset.page;
  const app = document.getElementById("app");
  if (page !== "login") document.getElementById("login-error")?.remove();
  const section = { overview: "/", ops: "/ops", op: "/ops", start: "/start", estimates: "/estimates" }[page];
  for (const a of document.querySelectorAll(".top nav a")) if (a.getAttribute("href") === section) a.setAttribute("aria-current", "page");
  (PAGES[page] || overview)(app, document.body.dataset.id);
  setInterval(tick, 1000);
})();
