// asynctrace report: renders the trace data embedded in #trace-data.
// No network, no dependencies. The timeline is drawn on a canvas (only what
// is in view, sub-pixel spans merged per pixel column); the span tree only
// creates the rows that are scrolled into view. Both stay quick at 100k spans.
"use strict";

(function () {
  const T_START = performance.now();
  const D = JSON.parse(document.getElementById("trace-data").textContent);
  const S = D.spans;   // [id, parent, lane, depth, start, end, kind, label, status, proc, data, agent, thread]
  const E = D.events;  // [seq, event, title, ts, owner, lane, depth, data, proc, status]
  const N = S.length;
  const M = E.length;
  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- formatting
  function fmtDur(ns) {
    if (ns === null || ns === undefined) return "";
    const a = Math.abs(ns);
    if (a >= 60e9) return (ns / 60e9).toFixed(1) + " min";
    if (a >= 1e9) return (ns / 1e9).toFixed(a >= 10e9 ? 1 : 2) + " s";
    if (a >= 1e6) return (ns / 1e6).toFixed(a >= 100e6 ? 0 : 1) + " ms";
    if (a >= 1e3) return (ns / 1e3).toFixed(a >= 100e3 ? 0 : 1) + " µs";
    return Math.round(ns) + " ns";
  }
  function fmtTok(n) {
    if (typeof n !== "number") return "";
    if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (n >= 1e4) return Math.round(n / 1e3) + "k";
    if (n >= 1e3) return (n / 1e3).toFixed(1) + "k";
    return String(n);
  }
  function fmtCost(c) {
    if (typeof c !== "number") return "";
    if (c === 0) return "$0";
    if (c < 0.01) return "$" + c.toFixed(4);
    return "$" + c.toFixed(c < 10 ? 3 : 2);
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function spanDur(i) { return S[i][5] - S[i][4]; }
  function statusOf(i) { return S[i][8] === null ? "open" : S[i][8]; }
  function tokensOf(data) {
    const a = data.input_tokens, b = data.output_tokens;
    if (typeof a !== "number" && typeof b !== "number") return "";
    return fmtTok(a || 0) + " → " + fmtTok(b || 0);
  }

  // ---------------------------------------------------------------- structure
  const childSpans = new Array(N);
  const ownEvents = new Array(N);
  const roots = [];
  const looseEvents = [];
  for (let i = 0; i < N; i++) {
    const p = S[i][1];
    if (p < 0) roots.push(i);
    else (childSpans[p] || (childSpans[p] = [])).push(i);
  }
  for (let j = 0; j < M; j++) {
    const o = E[j][4];
    if (o < 0) looseEvents.push(j);
    else (ownEvents[o] || (ownEvents[o] = [])).push(j);
  }
  const treeDepth = new Int32Array(N);
  for (let i = 0; i < N; i++) {  // rows come parents first (depth-first order)
    const p = S[i][1];
    treeDepth[i] = p >= 0 && p < i ? treeDepth[p] + 1 : 0;
  }
  // Tree node ids: spans are 0..N-1, events N..N+M-1.
  function childrenOf(i) {
    const spans = childSpans[i] || [];
    const evs = ownEvents[i] || [];
    if (!evs.length) return spans;
    const out = [];
    let a = 0, b = 0;
    while (a < spans.length || b < evs.length) {
      if (b >= evs.length || (a < spans.length && S[spans[a]][4] <= E[evs[b]][3])) out.push(spans[a++]);
      else out.push(N + evs[b++]);
    }
    return out;
  }
  function hasChildren(i) { return !!(childSpans[i] || ownEvents[i]); }

  // ---------------------------------------------------------------- filter
  const spanMatch = new Uint8Array(N).fill(1);
  const eventMatch = new Uint8Array(M).fill(1);
  let filterOn = false;
  function parseFilter(text) {
    const q = { kinds: [], statuses: [], words: [] };
    for (const tok of text.toLowerCase().split(/\s+/).filter(Boolean)) {
      if (tok.startsWith("kind:")) q.kinds.push(tok.slice(5));
      else if (tok.startsWith("status:")) q.statuses.push(tok.slice(7));
      else q.words.push(tok);
    }
    return q;
  }
  function applyFilter(text) {
    const q = parseFilter(text);
    filterOn = q.kinds.length + q.statuses.length + q.words.length > 0;
    let shown = 0;
    for (let i = 0; i < N; i++) {
      const r = S[i];
      let ok = true;
      if (q.kinds.length && !q.kinds.includes(r[6])) ok = false;
      if (ok && q.statuses.length && !q.statuses.includes(statusOf(i))) ok = false;
      if (ok && q.words.length) {
        const hay = (r[7] + " " + (r[10].name || "") + " " + r[0]).toLowerCase();
        ok = q.words.every((w) => hay.includes(w));
      }
      spanMatch[i] = ok ? 1 : 0;
      shown += ok;
    }
    for (let j = 0; j < M; j++) {
      const r = E[j];
      let ok = true;
      const kind = r[1].split(".")[0];
      if (q.kinds.length && !q.kinds.includes(kind) && !q.kinds.includes(r[1])) ok = false;
      if (ok && q.statuses.length) {
        const st = r[1] === "error" ? "error" : (r[9] || "ok");
        if (!q.statuses.includes(st)) ok = false;
      }
      if (ok && q.words.length) {
        const hay = (r[2] + " " + r[1]).toLowerCase();
        ok = q.words.every((w) => hay.includes(w));
      }
      eventMatch[j] = ok ? 1 : 0;
    }
    $("filter-count").textContent = filterOn ? shown + " of " + N + " spans" : "";
    rebuildRows();
    drawTimeline();
  }

  // ---------------------------------------------------------------- tree
  const ROW = 22;
  const expanded = new Uint8Array(N);
  for (let i = 0; i < N; i++) expanded[i] = N <= 3000 || treeDepth[i] < 2 ? 1 : 0;
  let rows = [];          // visible node ids, in order
  let rowDepth = [];
  let rowContext = [];    // shown only as an ancestor of a match
  let selected = -1;      // a node id
  const treeBox = $("tree");
  const spacer = $("tree-spacer");
  const rowsBox = $("tree-rows");

  function rebuildRows() {
    rows = []; rowDepth = []; rowContext = [];
    let keep = null;
    if (filterOn) {
      keep = new Uint8Array(N);
      for (let i = N - 1; i >= 0; i--) {
        if (spanMatch[i]) keep[i] = 2;
        if (keep[i]) { const p = S[i][1]; if (p >= 0 && !keep[p]) keep[p] = 1; }
      }
      for (let j = 0; j < M; j++) {
        if (eventMatch[j]) {
          let p = E[j][4];
          while (p >= 0 && !keep[p]) { keep[p] = 1; p = S[p][1]; }
        }
      }
    }
    const stack = [];
    const top = roots.concat(looseEvents.map((j) => N + j));
    for (let k = top.length - 1; k >= 0; k--) stack.push([top[k], 0]);
    while (stack.length) {
      const [id, depth] = stack.pop();
      if (id < N) {
        if (keep && !keep[id]) continue;
        rows.push(id); rowDepth.push(depth); rowContext.push(keep ? keep[id] === 1 : false);
        if (keep || expanded[id]) {
          const kids = childrenOf(id);
          for (let k = kids.length - 1; k >= 0; k--) stack.push([kids[k], depth + 1]);
        }
      } else {
        if (keep && !eventMatch[id - N]) continue;
        rows.push(id); rowDepth.push(depth); rowContext.push(false);
      }
    }
    spacer.style.height = rows.length * ROW + "px";
    renderTree();
  }

  function renderTree() {
    const h = treeBox.clientHeight || 430;
    const first = Math.max(0, Math.floor(treeBox.scrollTop / ROW) - 8);
    const last = Math.min(rows.length, first + Math.ceil(h / ROW) + 16);
    rowsBox.style.top = first * ROW + "px";
    rowsBox.replaceChildren();
    for (let r = first; r < last; r++) rowsBox.appendChild(rowElement(r));
  }

  function rowElement(r) {
    const id = rows[r];
    const div = el("div", "row");
    div.setAttribute("role", "treeitem");
    div.dataset.row = r;
    const name = el("span", "name");
    name.style.paddingLeft = rowDepth[r] * 14 + "px";
    if (id < N) {
      const s = S[id];
      div.dataset.span = id;
      if (hasChildren(id)) {
        const open = filterOn || expanded[id];
        div.setAttribute("aria-expanded", open ? "true" : "false");
        name.appendChild(el("span", "caret", open ? "▾" : "▸"));
      } else name.appendChild(el("span", "caret", ""));
      const dot = el("span", "dot");
      dot.style.background = kindColor(s[6], s[8]);
      name.appendChild(dot);
      name.appendChild(el("span", "label", s[7]));
      const st = statusOf(id);
      if (st !== "ok") name.appendChild(el("span", "badge " + st, st));
      div.appendChild(name);
      div.appendChild(el("span", "n", fmtDur(spanDur(id))));
      div.appendChild(el("span", "n", tokensOf(s[10])));
      div.appendChild(el("span", "n", fmtCost(s[10].cost_usd)));
      if (rowContext[r]) div.classList.add("context");
    } else {
      const e = E[id - N];
      div.dataset.event = id - N;
      name.appendChild(el("span", "caret", ""));
      name.appendChild(el("span", "ev " + (e[1] === "error" ? "err" : ""), "◆ " + e[2]));
      div.appendChild(name);
      div.appendChild(el("span", "n", ""));
      div.appendChild(el("span", "n", ""));
      div.appendChild(el("span", "n", ""));
    }
    if (id === selected) { div.classList.add("selected"); div.setAttribute("aria-selected", "true"); }
    return div;
  }

  function toggle(id, open) {
    if (id >= N || !hasChildren(id) || filterOn) return;
    expanded[id] = open === undefined ? 1 - expanded[id] : open ? 1 : 0;
    rebuildRows();
  }
  function setAll(open) {
    for (let i = 0; i < N; i++) expanded[i] = open ? 1 : 0;
    rebuildRows();
  }

  function revealInTree(id) {
    let p = id < N ? S[id][1] : E[id - N][4];
    while (p >= 0) { expanded[p] = 1; p = S[p][1]; }
    rebuildRows();
    const r = rows.indexOf(id);
    if (r >= 0) {
      const y = r * ROW;
      if (y < treeBox.scrollTop || y + ROW > treeBox.scrollTop + treeBox.clientHeight) {
        treeBox.scrollTop = Math.max(0, y - treeBox.clientHeight / 2);
      }
      renderTree();
    }
  }

  function select(id, opts) {
    selected = id;
    showDetails(id);
    if (!opts || !opts.fromTree) revealInTree(id); else renderTree();
    drawTimeline();
  }

  treeBox.addEventListener("scroll", renderTree, { passive: true });
  treeBox.addEventListener("click", (ev) => {
    const row = ev.target.closest(".row");
    if (!row) return;
    const id = rows[Number(row.dataset.row)];
    if (ev.target.classList.contains("caret")) { toggle(id); return; }
    select(id, { fromTree: true });
    treeBox.focus({ preventScroll: true });
  });
  treeBox.addEventListener("dblclick", (ev) => {
    const row = ev.target.closest(".row");
    if (row) toggle(rows[Number(row.dataset.row)]);
  });
  treeBox.addEventListener("keydown", (ev) => {
    if (!rows.length) return;
    let r = rows.indexOf(selected);
    const id = selected;
    const page = Math.max(1, Math.floor(treeBox.clientHeight / ROW) - 1);
    let target = null;
    switch (ev.key) {
      case "ArrowDown": target = rows[Math.min(rows.length - 1, r + 1)]; break;
      case "ArrowUp": target = rows[Math.max(0, r < 0 ? 0 : r - 1)]; break;
      case "PageDown": target = rows[Math.min(rows.length - 1, Math.max(r, 0) + page)]; break;
      case "PageUp": target = rows[Math.max(0, r - page)]; break;
      case "Home": target = rows[0]; break;
      case "End": target = rows[rows.length - 1]; break;
      case "ArrowRight":
        if (id >= 0 && id < N && hasChildren(id)) {
          if (!expanded[id] && !filterOn) toggle(id, true);
          else target = rows[r + 1];
        }
        break;
      case "ArrowLeft":
        if (id >= 0 && id < N && expanded[id] && hasChildren(id) && !filterOn) toggle(id, false);
        else if (id >= 0) { const p = id < N ? S[id][1] : E[id - N][4]; if (p >= 0) target = p; }
        break;
      case "Enter": case " ":
        if (id >= 0) toggle(id);
        break;
      default: return;
    }
    ev.preventDefault();
    if (target !== null && target !== undefined) select(target);
  });
  $("expand-all").addEventListener("click", () => setAll(true));
  $("collapse-all").addEventListener("click", () => setAll(false));

  // ---------------------------------------------------------------- details
  function kv(table, key, value, cls) {
    const tr = el("tr");
    tr.appendChild(el("td", "", key));
    const td = el("td", cls || "");
    if (value instanceof Node) td.appendChild(value); else td.textContent = value;
    tr.appendChild(td);
    table.appendChild(tr);
  }
  function valueNode(v) {
    if (typeof v === "string") return v.length > 80 || v.includes("\n") ? el("pre", "", v) : el("span", "", v);
    if (v === null || typeof v !== "object") return el("span", "", JSON.stringify(v));
    return el("pre", "", JSON.stringify(v, null, 2));
  }
  function jump(id, text) {
    const a = el("a", "jump", text);
    a.tabIndex = 0;
    a.addEventListener("click", () => select(id));
    a.addEventListener("keydown", (e) => { if (e.key === "Enter") select(id); });
    return a;
  }
  function wall(offsetNs) {
    const ms = (D.start_unix_ns + offsetNs) / 1e6;
    return new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC");
  }
  function procLabel(p) { const pr = D.procs[p]; return pr.label + " " + pr.trace_id.slice(0, 8); }

  function showDetails(id) {
    const box = $("details");
    box.replaceChildren();
    const t = el("table", "kv");
    if (id < N) {
      const s = S[id], data = s[10];
      const h = el("h3", "", s[7]);
      const st = statusOf(id);
      if (st !== "ok") h.appendChild(el("span", "badge " + st, st));
      box.appendChild(h);
      kv(t, "kind", s[6]);
      kv(t, "status", st, st === "error" ? "err" : "");
      if (st === "error" && (data.error_type || data.error_message)) {
        kv(t, "error", [data.error_type, data.error_message].filter(Boolean).join(": "), "err");
      }
      kv(t, "duration", fmtDur(spanDur(id)) + (st === "open" ? " (still open at the end)" : ""), "num");
      kv(t, "start", "+" + fmtDur(s[4]) + "   " + wall(s[4]), "num");
      if (typeof data.input_tokens === "number" || typeof data.output_tokens === "number") {
        kv(t, "tokens", "in " + (data.input_tokens ?? "?") + " · out " + (data.output_tokens ?? "?") +
          (typeof data.cached_tokens === "number" ? " · cached " + data.cached_tokens : ""), "num tokens");
      }
      if ("cost_usd" in data) kv(t, "cost", data.cost_usd === null ? "unknown (no price)" : fmtCost(data.cost_usd), "num cost");
      kv(t, "span id", s[0]);
      if (s[1] >= 0) kv(t, "parent", jump(s[1], S[s[1]][7]));
      kv(t, "trace", procLabel(s[9]));
      kv(t, "lane", D.lanes[s[2]].name);
      if (s[12] !== null) kv(t, "OS thread", String(s[12]));
      if (s[11]) kv(t, "agent", s[11]);
      const kids = childSpans[id] || [];
      if (kids.length) kv(t, "children", kids.length + " spans");
      const evs = ownEvents[id] || [];
      if (evs.length) {
        const list = el("div");
        for (const j of evs.slice(0, 50)) { list.appendChild(jump(N + j, E[j][2])); list.appendChild(el("br")); }
        kv(t, "events", list);
      }
      box.appendChild(t);
      box.appendChild(el("h3", "", "fields"));
      const f = el("table", "kv fields");
      for (const k of Object.keys(data)) kv(f, k, valueNode(data[k]));
      box.appendChild(f);
    } else {
      const e = E[id - N];
      box.appendChild(el("h3", e[1] === "error" ? "err" : "", e[2]));
      kv(t, "event", e[1]);
      kv(t, "at", "+" + fmtDur(e[3]) + "   " + wall(e[3]), "num");
      if (e[9]) kv(t, "status", e[9]);
      if (e[4] >= 0) kv(t, "in span", jump(e[4], S[e[4]][7]));
      kv(t, "trace", procLabel(e[8]));
      kv(t, "seq", String(e[0]));
      box.appendChild(t);
      box.appendChild(el("h3", "", "fields"));
      const f = el("table", "kv fields");
      for (const k of Object.keys(e[7])) kv(f, k, valueNode(e[7][k]));
      box.appendChild(f);
    }
  }

  // ---------------------------------------------------------------- timeline
  // The system's light or dark preference, until the toggle overrides it.
  const systemDark = matchMedia("(prefers-color-scheme: dark)");
  let themeChosen = false;
  function applySystemTheme() {
    if (!themeChosen) document.documentElement.dataset.theme = systemDark.matches ? "dark" : "light";
  }
  applySystemTheme();
  const css = getComputedStyle(document.documentElement);
  let colors = {};
  function readColors() {
    const v = (n) => css.getPropertyValue(n).trim();
    colors = {
      bg: v("--panel"), fg: v("--fg"), dim: v("--dim"), line: v("--line"), sel: v("--sel"),
      error: v("--error"), warn: v("--warn"), open: v("--open"), barText: v("--bar-text"), hover: v("--hover"),
      run: v("--k-run"), turn: v("--k-turn"), llm: v("--k-llm"), tool: v("--k-tool"), span: v("--k-span"), other: v("--k-other"),
    };
  }
  readColors();
  function kindColor(kind, status) {
    if (status === "error") return colors.error;
    return colors[kind] && ["run", "turn", "llm", "tool", "span"].includes(kind) ? colors[kind] : colors.other;
  }
  function eventColor(e) {
    if (e[1] === "error" || e[9] === "error") return colors.error;
    if (e[1] === "decision") return colors.turn;
    if (e[1] === "checkpoint") return colors.llm;
    return colors.dim;
  }

  const AXIS = 22, LABEL_W = 200, ROWH = 18, PROC_H = 20, LANE_GAP = 4;
  const L = D.lanes.length;
  const laneDepth = new Int32Array(L);
  const laneRows = D.lanes.map(() => []);
  const laneEvents = D.lanes.map(() => []);
  for (let i = 0; i < N; i++) {
    const lane = S[i][2], d = S[i][3];
    const rowsOf = laneRows[lane];
    while (rowsOf.length <= d) rowsOf.push([]);
    rowsOf[d].push(i);
    if (d + 1 > laneDepth[lane]) laneDepth[lane] = d + 1;
  }
  for (let j = 0; j < M; j++) {
    const lane = E[j][5];
    laneEvents[lane].push(j);
    if (E[j][6] + 1 > laneDepth[lane]) laneDepth[lane] = E[j][6] + 1;
  }
  for (const rs of laneRows) for (const r of rs) r.sort((a, b) => S[a][4] - S[b][4]);
  for (const es of laneEvents) es.sort((a, b) => E[a][3] - E[b][3]);
  // Vertical layout: a header per process, then its lanes.
  const laneY = new Float64Array(L);
  const procY = [];
  let contentH = 0;
  {
    let y = 0, proc = -1;
    for (let l = 0; l < L; l++) {
      if (D.lanes[l].proc !== proc) { proc = D.lanes[l].proc; procY.push([proc, y]); y += PROC_H; }
      laneY[l] = y;
      y += Math.max(1, laneDepth[l]) * ROWH + LANE_GAP;
    }
    contentH = y;
  }
  let endNs = 1;
  for (let i = 0; i < N; i++) if (S[i][5] > endNs) endNs = S[i][5];
  for (let j = 0; j < M; j++) if (E[j][3] > endNs) endNs = E[j][3];
  const pad = endNs * 0.01;
  let v0 = -pad, v1 = endNs + pad, scrollY = 0;
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  const box = $("timeline");
  let W = 0, H = 0;

  box.style.height = Math.max(160, Math.min(520, contentH + AXIS + 12)) + "px";
  function resize() {
    const dpr = window.devicePixelRatio || 1;
    W = box.clientWidth; H = box.clientHeight;
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    drawTimeline();
  }
  const xOf = (t) => LABEL_W + ((t - v0) / (v1 - v0)) * (W - LABEL_W);
  const tOf = (x) => v0 + ((x - LABEL_W) / (W - LABEL_W)) * (v1 - v0);

  function firstVisible(list, key, t) {
    // index of the first element whose start is >= t, minus one (it may reach into view)
    let lo = 0, hi = list.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (key(list[mid]) < t) lo = mid + 1; else hi = mid; }
    return Math.max(0, lo - 1);
  }
  function niceStep(span, px) {
    const target = span / Math.max(1, px / 110);
    const p = Math.pow(10, Math.floor(Math.log10(target)));
    for (const m of [1, 2, 5, 10]) if (m * p >= target) return m * p;
    return 10 * p;
  }

  let frame = 0;
  function drawTimeline() {
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; paint(); });
  }
  function paint() {
    if (!W) return;
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = colors.bg; ctx.fillRect(0, 0, W, H);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    const maxScroll = Math.max(0, contentH - (H - AXIS));
    if (scrollY > maxScroll) scrollY = maxScroll;
    if (scrollY < 0) scrollY = 0;
    // Bars
    ctx.save();
    ctx.beginPath(); ctx.rect(LABEL_W, AXIS, W - LABEL_W, H - AXIS); ctx.clip();
    for (let l = 0; l < L; l++) {
      const top = AXIS + laneY[l] - scrollY;
      const hgt = Math.max(1, laneDepth[l]) * ROWH;
      if (top > H || top + hgt < AXIS) continue;
      if (l % 2 === 1) { ctx.fillStyle = colors.hover; ctx.globalAlpha = 0.45; ctx.fillRect(LABEL_W, top - 2, W - LABEL_W, hgt + 4); ctx.globalAlpha = 1; }
      const rowsOf = laneRows[l];
      for (let d = 0; d < rowsOf.length; d++) drawRow(rowsOf[d], top + d * ROWH);
      drawMarkers(laneEvents[l], top);
    }
    drawLinks();
    ctx.restore();
    // Lane labels
    ctx.fillStyle = colors.bg; ctx.fillRect(0, AXIS, LABEL_W, H - AXIS);
    for (let l = 0; l < L; l++) {
      const top = AXIS + laneY[l] - scrollY;
      if (top > H || top + ROWH < AXIS) continue;
      ctx.fillStyle = colors.fg;
      ctx.fillText(clipText(D.lanes[l].name, LABEL_W - 22), 14, top + ROWH / 2);
    }
    ctx.strokeStyle = colors.line; ctx.beginPath(); ctx.moveTo(LABEL_W + 0.5, AXIS); ctx.lineTo(LABEL_W + 0.5, H); ctx.stroke();
    for (const [p, y] of procY) {
      const top = AXIS + y - scrollY;
      if (top > H || top + PROC_H < AXIS) continue;
      ctx.fillStyle = colors.line; ctx.fillRect(0, top, W, PROC_H - 2);
      ctx.fillStyle = colors.fg; ctx.font = "600 11px system-ui, sans-serif";
      const pr = D.procs[p];
      ctx.fillText(clipText(procLabel(p) + (pr.parent >= 0 ? "  ← " + S[pr.parent][7] : "") + "  · " + pr.started, W - 12), 6, top + PROC_H / 2 - 1);
      ctx.font = "11px system-ui, sans-serif";
    }
    // Axis
    ctx.fillStyle = colors.bg; ctx.fillRect(0, 0, W, AXIS);
    const step = niceStep(v1 - v0, W - LABEL_W);
    ctx.fillStyle = colors.dim; ctx.strokeStyle = colors.line;
    for (let t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
      const x = Math.round(xOf(t)) + 0.5;
      if (x < LABEL_W) continue;
      ctx.beginPath(); ctx.moveTo(x, AXIS - 6); ctx.lineTo(x, H); ctx.globalAlpha = 0.5; ctx.stroke(); ctx.globalAlpha = 1;
      ctx.fillText(fmtDur(t), x + 3, AXIS / 2);
    }
    ctx.fillText("+" + fmtDur(Math.max(0, v0)) + " … +" + fmtDur(v1), 6, AXIS / 2);
    ctx.strokeStyle = colors.line; ctx.beginPath(); ctx.moveTo(0, AXIS - 0.5); ctx.lineTo(W, AXIS - 0.5); ctx.stroke();
  }
  // The selected span's links to a parent or children on other lanes (or in
  // other processes), which the nesting on one lane cannot show.
  function drawLinks() {
    if (selected < 0 || selected >= N) return;
    const links = [];
    for (const c of childSpans[selected] || []) if (S[c][2] !== S[selected][2]) links.push([selected, c]);
    const p = S[selected][1];
    if (p >= 0 && S[p][2] !== S[selected][2]) links.push([p, selected]);
    const barTop = (i) => AXIS + laneY[S[i][2]] - scrollY + S[i][3] * ROWH;
    ctx.strokeStyle = colors.fg; ctx.fillStyle = colors.fg; ctx.lineWidth = 1.5; ctx.globalAlpha = 0.8;
    for (const [a, b] of links.slice(0, 500)) {
      const x = Math.max(xOf(Math.max(S[b][4], S[a][4])), LABEL_W + 2);
      const ya = barTop(a), yb = barTop(b);
      const down = yb > ya;
      const y1 = down ? ya + ROWH - 2 : ya + 1, y2 = down ? yb + 1 : yb + ROWH - 2;
      ctx.beginPath(); ctx.moveTo(x, y1); ctx.lineTo(x, y2); ctx.stroke();
      const d = down ? -5 : 5;
      ctx.beginPath(); ctx.moveTo(x, y2); ctx.lineTo(x - 4, y2 + d); ctx.lineTo(x + 4, y2 + d); ctx.closePath(); ctx.fill();
    }
    ctx.globalAlpha = 1; ctx.lineWidth = 1;
  }
  const charW = 6.2;
  function clipText(s, px) {
    const n = Math.floor(px / charW);
    return s.length <= n ? s : n > 1 ? s.slice(0, n - 1) + "…" : "";
  }
  function drawRow(list, y) {
    if (!list.length) return;
    let k = firstVisible(list, (i) => S[i][4], v0);
    let lastPx = -1, lastErr = false;
    for (; k < list.length; k++) {
      const i = list[k];
      const s = S[i];
      if (s[4] > v1) break;
      if (s[5] < v0) continue;
      const x0 = xOf(s[4]), x1 = xOf(s[5]);
      const w = x1 - x0;
      const dimmed = filterOn && !spanMatch[i];
      if (w < 1.5) {
        // Sub-pixel: one mark per pixel column, red if any span in it failed.
        const px = Math.floor(x0);
        const err = s[8] === "error";
        if (px === lastPx && (lastErr || !err)) continue;
        lastErr = px === lastPx ? lastErr || err : err;
        lastPx = px;
        ctx.globalAlpha = dimmed ? 0.15 : 1;
        ctx.fillStyle = kindColor(s[6], s[8]);
        ctx.fillRect(px, y + 1, 1.5, ROWH - 3);
        continue;
      }
      lastPx = -1; lastErr = false;
      ctx.globalAlpha = dimmed ? 0.15 : 1;
      ctx.fillStyle = kindColor(s[6], s[8]);
      const bx = Math.max(x0, LABEL_W - 2), bw = Math.min(x1, W + 2) - bx;
      ctx.fillRect(bx, y + 1, bw, ROWH - 3);
      if (s[8] === "cancelled") {
        ctx.strokeStyle = colors.warn; ctx.lineWidth = 2;
        ctx.strokeRect(bx + 1, y + 2, bw - 2, ROWH - 5); ctx.lineWidth = 1;
      } else if (s[8] === null) {
        ctx.fillStyle = colors.bg; ctx.globalAlpha = dimmed ? 0.1 : 0.5;
        for (let sx = Math.max(bx, x1 - 24); sx < x1; sx += 6) ctx.fillRect(sx, y + 1, 3, ROWH - 3);
      }
      if (i === selected) {
        ctx.globalAlpha = 1; ctx.strokeStyle = colors.fg; ctx.lineWidth = 2;
        ctx.strokeRect(bx - 1, y, bw + 2, ROWH - 1); ctx.lineWidth = 1;
      }
      if (bw > 28) {
        ctx.globalAlpha = dimmed ? 0.3 : 1;
        ctx.fillStyle = colors.barText;
        const mark = s[8] === "error" ? "✗ " : s[8] === "cancelled" ? "⊘ " : "";
        ctx.fillText(clipText(mark + s[7] + "  " + fmtDur(s[5] - s[4]), bw - 8), bx + 4, y + ROWH / 2);
      }
    }
    ctx.globalAlpha = 1;
  }
  function drawMarkers(list, laneTop) {
    if (!list.length) return;
    let k = firstVisible(list, (j) => E[j][3], v0);
    let lastPx = -10;
    for (; k < list.length; k++) {
      const j = list[k], e = E[j];
      if (e[3] > v1) break;
      const x = xOf(e[3]);
      const isErr = e[1] === "error" || e[9] === "error";
      if (x - lastPx < 2 && !isErr && j !== selected - N) continue;
      lastPx = x;
      const y = laneTop + e[6] * ROWH + ROWH / 2;
      ctx.globalAlpha = filterOn && !eventMatch[j] ? 0.15 : 1;
      ctx.fillStyle = eventColor(e);
      ctx.strokeStyle = colors.bg;
      ctx.beginPath();
      ctx.moveTo(x, y - 6); ctx.lineTo(x + 5, y); ctx.lineTo(x, y + 6); ctx.lineTo(x - 5, y); ctx.closePath();
      ctx.fill(); ctx.stroke();
      if (N + j === selected) { ctx.strokeStyle = colors.fg; ctx.lineWidth = 2; ctx.stroke(); ctx.lineWidth = 1; }
    }
    ctx.globalAlpha = 1;
  }

  function hit(x, y) {
    if (x < LABEL_W || y < AXIS) return -1;
    const cy = y - AXIS + scrollY;
    let lane = -1;
    for (let l = 0; l < L; l++) {
      if (cy >= laneY[l] && cy < laneY[l] + Math.max(1, laneDepth[l]) * ROWH) { lane = l; break; }
    }
    if (lane < 0) return -1;
    const d = Math.floor((cy - laneY[lane]) / ROWH);
    const t = tOf(x), tol = (4 * (v1 - v0)) / (W - LABEL_W);
    let best = -1, bestDx = Infinity;
    const evs = laneEvents[lane];
    for (let k = firstVisible(evs, (j) => E[j][3], t - tol * 1.5); k < evs.length; k++) {
      const j = evs[k];
      if (E[j][3] > t + tol * 1.5) break;
      if (E[j][6] !== d) continue;
      const dx = Math.abs(E[j][3] - t);
      if (dx < bestDx) { best = N + j; bestDx = dx; }
    }
    if (best >= 0) return best;
    const list = laneRows[lane][d] || [];
    let k = firstVisible(list, (i) => S[i][4], t - tol);
    for (; k < list.length; k++) {
      const s = S[list[k]];
      if (s[4] > t + tol) break;
      if (s[5] + tol >= t) return list[k];
    }
    return -1;
  }

  function zoom(factor, x) {
    const t = x === undefined ? (v0 + v1) / 2 : tOf(x);
    let a = t - (t - v0) * factor, b = t + (v1 - t) * factor;
    const full = endNs + 2 * pad;
    if (b - a < 1000) { const m = (a + b) / 2; a = m - 500; b = m + 500; }
    if (b - a > full * 1.5) { a = -pad; b = endNs + pad; }
    v0 = a; v1 = b;
    drawTimeline();
  }
  function pan(px) { const dt = (px * (v1 - v0)) / (W - LABEL_W); v0 += dt; v1 += dt; drawTimeline(); }
  function fit() { v0 = -pad; v1 = endNs + pad; scrollY = 0; drawTimeline(); }
  function zoomToSelection() {
    if (selected < 0) return;
    const a = selected < N ? S[selected][4] : E[selected - N][3];
    const b = selected < N ? S[selected][5] : a;
    const w = Math.max(b - a, (v1 - v0) / 50, 1000);
    v0 = a - w * 0.1; v1 = a + w * 1.1;
    const lane = selected < N ? S[selected][2] : E[selected - N][5];
    const ly = laneY[lane];
    if (ly < scrollY || ly > scrollY + H - AXIS - ROWH) scrollY = Math.max(0, ly - 40);
    drawTimeline();
  }

  box.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const rect = canvas.getBoundingClientRect();
    if (ev.shiftKey) { scrollY += ev.deltaY; drawTimeline(); return; }
    if (Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) { pan(ev.deltaX); return; }
    zoom(Math.exp(ev.deltaY * 0.002), ev.clientX - rect.left);
  }, { passive: false });
  let drag = null;
  box.addEventListener("pointerdown", (ev) => {
    drag = { x: ev.clientX, y: ev.clientY, moved: false };
    box.setPointerCapture(ev.pointerId);
  });
  box.addEventListener("pointermove", (ev) => {
    const rect = canvas.getBoundingClientRect();
    if (drag) {
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) {
        box.classList.add("dragging");
        pan(-dx); scrollY -= dy; drag.x = ev.clientX; drag.y = ev.clientY;
        $("tip").hidden = true;
        return;
      }
    }
    showTip(hit(ev.clientX - rect.left, ev.clientY - rect.top), ev.clientX - rect.left, ev.clientY - rect.top);
  });
  box.addEventListener("pointerup", (ev) => {
    const rect = canvas.getBoundingClientRect();
    const wasDrag = drag && drag.moved;
    drag = null; box.classList.remove("dragging");
    if (!wasDrag) {
      const id = hit(ev.clientX - rect.left, ev.clientY - rect.top);
      if (id >= 0) select(id);
    }
  });
  box.addEventListener("pointerleave", () => { $("tip").hidden = true; });
  box.addEventListener("dblclick", () => zoomToSelection());
  box.addEventListener("keydown", (ev) => {
    switch (ev.key) {
      case "+": case "=": zoom(0.7); break;
      case "-": case "_": zoom(1 / 0.7); break;
      case "ArrowLeft": pan(-(W - LABEL_W) * 0.15); break;
      case "ArrowRight": pan((W - LABEL_W) * 0.15); break;
      case "ArrowUp": scrollY -= ROWH * 3; drawTimeline(); break;
      case "ArrowDown": scrollY += ROWH * 3; drawTimeline(); break;
      default: return;
    }
    ev.preventDefault();
  });
  function showTip(id, x, y) {
    const tip = $("tip");
    if (id < 0) { tip.hidden = true; return; }
    let text;
    if (id < N) {
      const s = S[id], d = s[10];
      text = s[7] + "\n" + fmtDur(s[5] - s[4]) + " · " + statusOf(id);
      const tok = tokensOf(d);
      if (tok) text += "\n" + tok + " tokens";
      if (typeof d.cost_usd === "number") text += " · " + fmtCost(d.cost_usd);
      if (s[8] === "error" && (d.error_type || d.error_message)) text += "\n" + [d.error_type, d.error_message].filter(Boolean).join(": ");
    } else {
      const e = E[id - N];
      text = e[2] + "\n+" + fmtDur(e[3]);
    }
    tip.textContent = text;
    tip.hidden = false;
    tip.style.left = Math.min(x + 14, W - 300) + "px";
    tip.style.top = y + 16 + "px";
  }
  $("zoom-in").addEventListener("click", () => zoom(0.6));
  $("zoom-out").addEventListener("click", () => zoom(1 / 0.6));
  $("zoom-fit").addEventListener("click", fit);
  $("zoom-sel").addEventListener("click", zoomToSelection);
  window.addEventListener("resize", resize);

  // ---------------------------------------------------------------- summary
  function table(head, body, numeric) {
    const t = el("table", "t");
    const tr = el("tr");
    head.forEach((h, k) => tr.appendChild(el("th", numeric[k] ? "n" : "", h)));
    t.appendChild(tr);
    for (const row of body) {
      const r = el("tr");
      row.forEach((c, k) => {
        const td = el("td", numeric[k] ? "n" : "");
        if (c instanceof Node) td.appendChild(c); else td.textContent = c;
        r.appendChild(td);
      });
      t.appendChild(r);
    }
    return t;
  }
  function section(parent, title, node) {
    const div = el("div");
    div.appendChild(el("h3", "", title));
    div.appendChild(node);
    parent.appendChild(div);
    return div;
  }
  function renderCards() {
    const sm = D.summary, box = $("cards");
    const shed = D.procs.reduce((a, p) => a + (p.health.shed || 0), 0);
    const writeErrors = D.procs.reduce((a, p) => a + (p.health.write_errors || 0), 0);
    const llm = sm.models.reduce((a, m) => a + m.calls, 0);
    const tools = sm.latency.filter((r) => r.kind === "tool").reduce((a, r) => a + r.n, 0);
    const cards = [
      ["duration", fmtDur(sm.duration_ns)],
      [sm.traces > 1 ? "spans in " + sm.traces + " traces" : "spans", sm.spans],
      ["llm calls", llm],
      ["tool calls", tools],
      ["tokens in / out", fmtTok(sm.totals.input_tokens) + " / " + fmtTok(sm.totals.output_tokens)],
      [sm.totals.unpriced ? "cost (+" + sm.totals.unpriced + " unpriced)" : "cost", fmtCost(sm.totals.cost_usd)],
      ["errors", sm.error_count, sm.error_count ? "bad" : ""],
      ["cancelled · open", sm.cancelled + " · " + sm.open, sm.cancelled || sm.open ? "warn" : ""],
      ["shed · write errors", shed + " · " + writeErrors, shed || writeErrors ? "bad" : "ok"],
    ];
    for (const [label, value, cls] of cards) {
      const c = el("div", "card " + (cls || ""));
      c.appendChild(el("div", "v", value));
      c.appendChild(el("div", "l", label));
      box.appendChild(c);
    }
  }
  function renderSummary() {
    const sm = D.summary, box = $("summary");
    section(box, "Latency per tool and model", table(
      ["", "name", "n", "p50", "p95", "max", "errors"],
      sm.latency.map((r) => [r.kind, r.name, r.n, fmtDur(r.p50_ns), fmtDur(r.p95_ns), fmtDur(r.max_ns), r.errors]),
      [0, 0, 1, 1, 1, 1, 1]));
    section(box, "Tokens and cost per model", table(
      ["model", "calls", "in", "out", "cached", "cost"],
      sm.models.map((m) => [m.model, m.calls, fmtTok(m.input_tokens), fmtTok(m.output_tokens), fmtTok(m.cached_tokens),
        m.unpriced ? (m.unpriced === m.calls ? "unknown" : fmtCost(m.cost_usd) + " + " + m.unpriced + " unpriced") : fmtCost(m.cost_usd)]),
      [0, 1, 1, 1, 1, 1]));
    const errs = el("div", "errors");
    if (!sm.errors.length) errs.appendChild(el("p", "ok-text", "No errors."));
    for (const e of sm.errors.slice(0, 200)) {
      const p = el("div");
      const id = e.span !== undefined ? e.span : N + e.event;
      const t = id < N ? S[id][4] : E[id - N][3];
      p.appendChild(el("span", "dim", "+" + fmtDur(t) + "  "));
      p.appendChild(jump(id, e.what));
      p.appendChild(el("span", "err", "  " + e.message));
      errs.appendChild(p);
    }
    if (sm.errors.length > 200) errs.appendChild(el("p", "dim", "… " + (sm.errors.length - 200) + " more"));
    section(box, "Errors (" + sm.error_count + ")", errs);
    const health = D.procs.map((p, k) => {
      const h = p.health;
      const by = h.shed_by_reason ? Object.entries(h.shed_by_reason).map(([a, b]) => a + " " + b).join(", ") : "";
      const state = p.closed ? (p.status || "?") + (p.reason ? " (" + p.reason + ")" : "") : "not closed";
      const cell = el("span", p.closed && p.status === "ok" ? "ok-text" : "warn-text", state);
      return [procLabel(k), cell, h.emitted ?? "?", h.written ?? "?", (h.shed || 0) + (by ? " (" + by + ")" : ""),
        h.write_errors || 0, h.oversize || 0, (h.export_errors || 0) + " / " + (h.export_dropped || 0)];
    });
    const hbox = el("div");
    hbox.appendChild(table(["trace", "state", "emitted", "written", "shed", "write err", "oversize", "export err/drop"], health,
      [0, 0, 1, 1, 1, 1, 1, 1]));
    for (const p of D.procs) for (const pr of p.problems) hbox.appendChild(el("div", "warn-text", "⚠ " + p.file + ": " + pr));
    section(box, "Collector health", hbox).classList.add("wide");
    section(box, "Spans by kind", table(["kind", "spans"], Object.entries(sm.spans_by_kind), [0, 1]));
  }
  function renderCaptures() {
    if (!D.captures.length) return;
    $("captures-panel").hidden = false;
    const box = $("captures");
    for (const c of D.captures) {
      const d = el("details", "capture");
      d.dataset.capture = "";
      const sum = el("summary");
      const id = c.span !== undefined ? c.span : N + c.event;
      const t = id < N ? S[id][4] : E[id - N][3];
      sum.appendChild(el("span", "dim", "+" + fmtDur(t) + "  "));
      sum.appendChild(document.createTextNode(c.title + "  "));
      sum.appendChild(jump(id, "show"));
      d.appendChild(sum);
      d.addEventListener("toggle", () => {
        if (d.open && d.children.length === 1) d.appendChild(el("pre", "", JSON.stringify(c.body, null, 2)));
      });
      box.appendChild(d);
    }
  }
  function renderLegend() {
    const lg = $("legend");
    for (const [name, color] of [["run", colors.run], ["turn", colors.turn], ["llm", colors.llm], ["tool", colors.tool],
      ["span", colors.span], ["error", colors.error]]) {
      const s = el("span");
      const i = el("i"); i.style.background = color;
      s.appendChild(i); s.appendChild(document.createTextNode(name));
      lg.appendChild(s);
    }
    const c = el("span"); const i = el("i"); i.style.border = "2px solid " + colors.warn; c.appendChild(i);
    c.appendChild(document.createTextNode("cancelled")); lg.appendChild(c);
    lg.appendChild(el("span", "", "◆ point event"));
  }

  // ---------------------------------------------------------------- page
  const filterBox = $("filter");
  let filterTimer = 0;
  filterBox.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => applyFilter(filterBox.value), N > 20000 ? 150 : 0);
  });
  filterBox.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { filterBox.value = ""; applyFilter(""); treeBox.focus(); }
    if (ev.key === "Enter") { clearTimeout(filterTimer); applyFilter(filterBox.value); }
  });
  function repaint() { readColors(); renderTree(); drawTimeline(); }
  function theme() {
    const root = document.documentElement;
    themeChosen = true;
    root.dataset.theme = root.dataset.theme === "dark" ? "light" : "dark";
    repaint();
  }
  systemDark.addEventListener("change", () => { applySystemTheme(); repaint(); });
  $("theme").addEventListener("click", theme);
  document.addEventListener("keydown", (ev) => {
    const typing = ev.target instanceof HTMLInputElement;
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "/") { ev.preventDefault(); filterBox.focus(); filterBox.select(); }
    else if (ev.key === "t") theme();
    else if (ev.key === "f") zoomToSelection();
    else if (ev.key === "0") fit();
  });

  $("title").textContent = D.title;
  const root = D.procs[0] || { started: D.start_time };
  $("subtitle").textContent = "trace " + D.trace_id + " · started " + root.started +
    (D.procs.length > 1 ? " · " + (D.procs.length - 1) + " child trace" + (D.procs.length > 2 ? "s" : "") : "");
  $("footer").textContent = D.producer + " · " + D.source;
  renderCards();
  renderLegend();
  renderSummary();
  renderCaptures();
  rebuildRows();
  // Short trees need no tall panel (set once, so that collapsing does not jump).
  treeBox.style.height = Math.max(140, Math.min(430, rows.length * ROW + 8)) + "px";
  renderTree();
  resize();
  requestAnimationFrame(() => {
    paint();
    window.asynctraceReport = { spans: N, events: M, firstViewMs: performance.now() - T_START };
    document.documentElement.dataset.ready = "1";
  });
})();
