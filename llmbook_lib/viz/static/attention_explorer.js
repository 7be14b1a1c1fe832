/* Attention explorer of 大语言模型应用指南 (written into each page by llmbook_lib.explorer).
 *
 * Plain JavaScript, no dependencies and no module loader: it runs on the static website, in
 * JupyterLab, classic Notebook and Colab alike. Each explorer is one div.llmb-attn holding
 * its data in a JSON script element (type application/json) and a call to
 * LLMBookAttention.mount(div). Data format (see explorer.py): per sentence, per layer, per head,
 * per query row, the natural log of each weight times `scale`, rounded to an integer; null is a
 * weight of exactly 0 (a masked key); trailing nulls of a row are left out. `tokens` are the keys
 * (columns); a cross-attention sentence also has `queries` (rows), otherwise the rows are the
 * same tokens as the columns.
 */
(function () {
  "use strict";
  var VERSION = 2;   // 2: cross-attention (queries differ from keys)
  if (window.LLMBookAttention && window.LLMBookAttention.version >= VERSION) return;
  var SVGNS = "http://www.w3.org/2000/svg";
  var LO = [247, 251, 255], HI = [8, 48, 107];   // matplotlib "Blues", 0 -> 1

  function el(tag, attrs, parent, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function sv(tag, attrs, parent, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function colour(w) {
    w = Math.max(0, Math.min(1, w));
    return "rgb(" + LO.map(function (a, i) { return Math.round(a + (HI[i] - a) * w); }).join(",") + ")";
  }

  // How a token is drawn: visible whitespace, long tokens shortened.
  function shown(t) {
    t = String(t).replace(/ /g, "\u2423").replace(/\n/g, "\u23ce").replace(/\t/g, "\u21e5");
    if (t === "") return "\u2205";
    return t.length > 10 ? t.slice(0, 9) + "\u2026" : t;
  }

  function textWidth(t, fs) {          // rough width in px: CJK full width, others ~0.62 em
    var w = 0;
    for (var i = 0; i < t.length; i++) w += t.charCodeAt(i) > 0x2e80 ? fs : fs * 0.62;
    return w;
  }

  function queries(sen) { return sen.queries || sen.tokens; }

  // [L][H] Float64Array(Tq*Tk) of log-weights (row-major, one row per query), -Infinity where
  // the weight is exactly 0.
  function decode(sen, scale) {
    var Tq = queries(sen).length, Tk = sen.tokens.length;
    return sen.logw.map(function (layer) {
      return layer.map(function (rows) {
        var m = new Float64Array(Tq * Tk).fill(-Infinity);
        for (var i = 0; i < Tq; i++) {
          var r = rows[i] || [];
          for (var j = 0; j < r.length && j < Tk; j++) if (r[j] !== null) m[i * Tk + j] = r[j] / scale;
        }
        return m;
      });
    });
  }

  // Display temperature: w^(1/tau), renormalised per row = softmax(log w / tau).
  // temper(logm, T, tau) for a square matrix, temper(logm, Tq, tau, Tk) for Tq rows of Tk keys.
  function temper(logm, Tq, tau, Tk) {
    var n = Tk === undefined ? Tq : Tk;
    var out = new Float64Array(Tq * n);
    for (var i = 0; i < Tq; i++) {
      var mx = -Infinity, j, sum = 0;
      for (j = 0; j < n; j++) mx = Math.max(mx, logm[i * n + j]);
      if (mx === -Infinity) continue;   // a row with no visible key stays 0
      for (j = 0; j < n; j++) {
        var v = logm[i * n + j];
        var e = v === -Infinity ? 0 : Math.exp((v - mx) / tau);
        out[i * n + j] = e;
        sum += e;
      }
      for (j = 0; j < n; j++) out[i * n + j] /= sum;
    }
    return out;
  }

  function mount(root) {
    if (!root || root.getAttribute("data-mounted")) return;
    root.setAttribute("data-mounted", "1");
    var data = JSON.parse(root.querySelector('script[type="application/json"]').textContent);
    var app = root.querySelector(".llmb-attn-app");
    app.textContent = "";
    var sens = data.sentences, cache = {};
    var init = data.init || {};
    var st = {s: 0, layer: init.layer || 0, head: init.head === undefined ? "mean" : init.head,
              tau: init.temperature || 1, view: init.view || "heatmap", pinned: null, hover: null,
              cell: null};
    var topk = data.top_k || 5;

    function mats(s) { return cache[s] || (cache[s] = decode(sens[s], data.scale)); }

    // ---- controls ---------------------------------------------------------------------------
    var bar = el("div", {"class": "llmb-attn-controls"}, app);
    if (data.controls === false) bar.style.display = "none";
    var selS = null;
    if (sens.length > 1) {
      var ls = el("label", {}, bar, "句子 ");
      selS = el("select", {"data-role": "sentence"}, ls);
      sens.forEach(function (s, i) { el("option", {value: i}, selS, s.title || ("句子 " + (i + 1))); });
    }
    var ll = el("label", {}, bar, "层 ");
    var selL = el("select", {"data-role": "layer"}, ll);
    var lh = el("label", {}, bar, "头 ");
    var selH = el("select", {"data-role": "head"}, lh);
    var lt = el("label", {}, bar, "温度 τ ");
    var tau = el("input", {type: "range", min: "-1", max: "1", step: "0.01", "data-role": "temperature"}, lt);
    var tauOut = el("span", {"class": "llmb-attn-tau"}, lt);
    var reset = el("button", {type: "button", "data-role": "reset-temperature", title: "恢复 τ = 1"}, bar, "τ = 1");
    var views = el("span", {"class": "llmb-attn-views"}, bar);
    var btns = {};
    [["heatmap", "热力图"], ["lines", "连线"]].forEach(function (v) {
      btns[v[0]] = el("button", {type: "button", "data-view": v[0]}, views, v[1]);
    });

    function fillLayerHead() {
      var s = sens[st.s];
      selL.textContent = "";
      for (var l = 0; l < s.L; l++) el("option", {value: l}, selL, "第 " + (l + 1) + " 层");
      selH.textContent = "";
      el("option", {value: "mean"}, selH, "各头平均");
      for (var hd = 0; hd < s.H; hd++) el("option", {value: hd}, selH, "头 " + (hd + 1));
      st.layer = Math.min(st.layer, s.L - 1);
      if (st.head !== "mean") st.head = Math.min(st.head, s.H - 1);
      selL.value = String(st.layer);
      selH.value = String(st.head);
    }

    // ---- body -------------------------------------------------------------------------------
    var body = el("div", {"class": "llmb-attn-body"}, app);
    var canvas = el("div", {"class": "llmb-attn-canvas"}, body);
    var side = el("div", {"class": "llmb-attn-side"}, body);
    var qline = el("div", {"class": "llmb-attn-query"}, side);
    var list = el("ol", {"class": "llmb-attn-topk"}, side);
    var cellInfo = el("div", {"class": "llmb-attn-cell"}, side);
    var legend = el("div", {"class": "llmb-attn-legend"}, side);
    if (data.controls !== false) {
      el("div", {"class": "llmb-attn-note"}, app,
         "温度 τ 只作用于显示：对保存下来的注意力权重逐行计算 w^(1/τ) 再归一化，" +
         "这与把注意力分数（logits）除以 τ 后重新做 softmax 完全相同。τ < 1 使分布更尖锐，" +
         "τ > 1 使其更平坦；模型本身没有改变。“各头平均”先对每个头施加温度，再对各头取平均。");
    }

    // M: the shown Tq x Tk matrix (row-major); Tq queries (rows), Tk keys (columns).
    var M = null, Tq = 0, Tk = 0, cross = false, svg = null, hl = null, rowEls = [], lineEls = [];

    function matrix() {
      var m = mats(st.s)[st.layer];
      if (st.head !== "mean") return temper(m[st.head], Tq, st.tau, Tk);
      var out = new Float64Array(Tq * Tk);
      m.forEach(function (hm) {
        var t = temper(hm, Tq, st.tau, Tk);
        for (var i = 0; i < t.length; i++) out[i] += t[i] / m.length;
      });
      return out;
    }

    function focus() { return st.hover !== null ? st.hover : (st.pinned !== null ? st.pinned : Tq - 1); }

    function drawHeatmap(qtokens, ktokens) {
      var cell = Math.max(8, Math.min(28, Math.floor(440 / Math.max(Tq, Tk))));
      var fs = Math.max(8, Math.min(14, Math.round(cell * 0.72)));
      var qlabels = qtokens.map(shown), klabels = ktokens.map(shown);
      function widest(ls) { return Math.max.apply(null, ls.map(function (t) { return textWidth(t, fs); })); }
      var qw = widest(qlabels), kw = widest(klabels);
      var rotate = kw > cell * 0.95;
      var left = Math.ceil(qw) + 10, top = rotate ? Math.ceil(kw * 0.8) + 14 : fs + 10;
      svg = sv("svg", {width: left + Tk * cell + 6, height: top + Tq * cell + 6, "class": "llmb-attn-svg",
                       "data-view": "heatmap"}, canvas);
      var g = sv("g", {}, svg);
      for (var j = 0; j < Tk; j++) {
        var x = left + j * cell + cell / 2, y = top - 5;
        sv("text", rotate ? {x: x, y: y, "font-size": fs, transform: "rotate(-55 " + x + " " + y + ")",
                             "data-k": j, "class": "llmb-attn-klabel"}
                          : {x: x, y: y, "text-anchor": "middle", "font-size": fs, "data-k": j,
                             "class": "llmb-attn-klabel"}, svg, klabels[j]);
      }
      for (var i = 0; i < Tq; i++) {
        rowEls.push(sv("text", {x: left - 5, y: top + i * cell + cell / 2, "text-anchor": "end",
                                 "dominant-baseline": "central", "font-size": fs, "data-q": i,
                                 "class": "llmb-attn-qlabel"}, svg, qlabels[i]));
        for (j = 0; j < Tk; j++) {
          var w = M[i * Tk + j];
          sv("rect", {x: left + j * cell, y: top + i * cell, width: cell, height: cell, fill: colour(w),
                      "data-q": i, "data-k": j, "data-w": w.toFixed(3), "class": "llmb-attn-cellrect"}, g);
        }
      }
      hl = sv("rect", {x: left, y: top, width: Tk * cell, height: cell, "class": "llmb-attn-hl",
                       visibility: "hidden"}, svg);
      hl.setAttribute("data-cell", cell);
      hl.setAttribute("data-top", top);
      legend.innerHTML = "";
      el("div", {}, legend, cross
         ? "交叉注意力：行是查询（一个序列的词元，如解码器的目标词元），列是键（另一个序列的词元，如编码器的源词元）。颜色越深，权重越大；每行之和为 1。"
         : "行：查询（正在计算表示的词元）；列：键（被关注的词元）。颜色越深，权重越大；每行之和为 1。");
      var grad = el("div", {"class": "llmb-attn-grad"}, legend);
      grad.style.background = "linear-gradient(to right," + colour(0) + "," + colour(1) + ")";
      var ticks = el("div", {"class": "llmb-attn-ticks"}, legend);
      el("span", {}, ticks, "0");
      el("span", {}, ticks, "0.5");
      el("span", {}, ticks, "1");
    }

    function drawLines(qtokens, ktokens) {
      var rowH = Math.max(14, Math.min(22, Math.floor(520 / Math.max(Tq, Tk))));
      var fs = Math.max(9, Math.min(14, Math.round(rowH * 0.68)));
      var qlabels = qtokens.map(shown), klabels = ktokens.map(shown);
      function widest(ls) {
        return Math.max(32, Math.ceil(Math.max.apply(null, ls.map(function (t) { return textWidth(t, fs); }))) + 8);
      }
      var qcap = cross ? "查询（目标）" : "查询", kcap = cross ? "键（源）" : "键";
      var lw = Math.max(widest(qlabels), Math.ceil(textWidth(qcap, 11)) + 4);
      var kw = Math.max(widest(klabels), Math.ceil(textWidth(kcap, 11)) + 4);
      var gap = 170, top = 22, x1 = lw + 4, x2 = lw + gap - 4;
      svg = sv("svg", {width: lw + gap + kw + 8, height: top + Math.max(Tq, Tk) * rowH + 6, "class": "llmb-attn-svg",
                       "data-view": "lines"}, canvas);
      sv("text", {x: lw, y: 12, "text-anchor": "end", "font-size": 11, "class": "llmb-attn-caption"}, svg, qcap);
      sv("text", {x: lw + gap, y: 12, "font-size": 11, "class": "llmb-attn-caption"}, svg, kcap);
      var g = sv("g", {}, svg);
      for (var j = 0; j < Tk; j++) {
        sv("text", {x: lw + gap, y: top + j * rowH + rowH / 2, "dominant-baseline": "central", "font-size": fs,
                    "data-k": j, "class": "llmb-attn-klabel"}, svg, klabels[j]);
      }
      for (var i = 0; i < Tq; i++) {
        var y = top + i * rowH + rowH / 2;
        lineEls.push([]);
        rowEls.push(sv("text", {x: lw, y: y, "text-anchor": "end", "dominant-baseline": "central",
                                 "font-size": fs, "data-q": i, "class": "llmb-attn-qlabel"}, svg, qlabels[i]));
        for (j = 0; j < Tk; j++) {
          var w = M[i * Tk + j];
          if (w < 0.01) continue;
          lineEls[i].push(sv("line", {x1: x1, y1: y, x2: x2, y2: top + j * rowH + rowH / 2,
                                       "stroke-width": (0.6 + 4 * w).toFixed(2), "stroke-opacity": Math.max(0.06, w).toFixed(3),
                                       "data-q": i, "data-k": j, "data-w": w.toFixed(3), "class": "llmb-attn-line"}, g));
        }
      }
      legend.innerHTML = "";
      el("div", {}, legend, cross
         ? "交叉注意力：左列是查询（目标序列），右列是键（源序列）。线越粗越深，权重越大（小于 0.01 的不画）。"
         : "左列：查询；右列：键。线越粗越深，权重越大（小于 0.01 的不画）。");
    }

    function render() {
      var s = sens[st.s];
      Tq = queries(s).length;
      Tk = s.tokens.length;
      cross = !!s.queries;
      M = matrix();
      canvas.textContent = "";
      rowEls = [];
      lineEls = [];
      hl = null;
      if (st.view === "lines") drawLines(queries(s), s.tokens); else drawHeatmap(queries(s), s.tokens);
      tau.value = String(Math.log10(st.tau));
      tauOut.textContent = st.tau.toFixed(2);
      for (var v in btns) btns[v].className = v === st.view ? "llmb-on" : "";
      root.setAttribute("data-state", [st.s, st.layer, st.head, st.tau.toFixed(2), st.view].join("|"));
      root.setAttribute("data-cross", cross ? "1" : "0");
      update();
    }

    function update() {
      var s = sens[st.s], q = focus(), active = st.hover !== null || st.pinned !== null;
      var tokens = s.tokens, qtokens = queries(s), row = [];
      for (var j = 0; j < Tk; j++) row.push([M[q * Tk + j], j]);
      row.sort(function (a, b) { return b[0] - a[0] || a[1] - b[1]; });
      qline.textContent = "";
      el("span", {}, qline, (active ? "查询词元 " : (cross ? "最后一个查询词元 " : "最后一个词元 ")) + "「" +
         shown(qtokens[q]) + "」（第 " + (q + 1) + " 个）最关注" + (cross ? "的源词元" : "") + "：");
      if (st.pinned !== null) el("span", {"class": "llmb-attn-pin"}, qline, " 已固定，再点一次取消");
      list.textContent = "";
      row.filter(function (r) { return r[0] > 0; }).slice(0, topk).forEach(function (r) {   // masked keys (0) are not listed
        var li = el("li", {"data-k": r[1], "data-w": r[0].toFixed(3)}, list);
        el("span", {"class": "llmb-attn-tok"}, li, "「" + shown(tokens[r[1]]) + "」");
        el("span", {"class": "llmb-attn-pos"}, li, "#" + (r[1] + 1));
        var b = el("span", {"class": "llmb-attn-bar"}, li);
        el("span", {}, b).style.width = (100 * r[0]).toFixed(1) + "%";
        el("span", {"class": "llmb-attn-val"}, li, r[0].toFixed(3));
      });
      if (st.cell) {
        var c = st.cell;
        cellInfo.textContent = "「" + shown(qtokens[c[0]]) + "」→「" + shown(tokens[c[1]]) + "」：" +
          M[c[0] * Tk + c[1]].toFixed(3);
      } else {
        cellInfo.textContent = "";
      }
      rowEls.forEach(function (e, i) { e.classList.toggle("llmb-on", active && i === q); });
      if (hl) {
        hl.setAttribute("visibility", active ? "visible" : "hidden");
        hl.setAttribute("y", +hl.getAttribute("data-top") + q * +hl.getAttribute("data-cell"));
      }
      if (lineEls.length) {
        svg.classList.toggle("llmb-focus", active);
        lineEls.forEach(function (ls, i) {
          ls.forEach(function (e) { e.classList.toggle("llmb-on", active && i === q); });
        });
      }
    }

    function target(ev) {
      var t = ev.target;
      if (!t || !t.getAttribute) return null;
      var q = t.getAttribute("data-q");
      return q === null ? null : {q: +q, k: t.getAttribute("data-k")};
    }

    canvas.addEventListener("mouseover", function (ev) {
      var t = target(ev);
      if (!t) return;
      st.hover = t.q;
      st.cell = t.k !== null && st.view === "heatmap" ? [t.q, +t.k] : null;
      update();
    });
    canvas.addEventListener("mouseleave", function () { st.hover = null; st.cell = null; update(); });
    canvas.addEventListener("click", function (ev) {
      var t = target(ev);
      if (!t) return;
      st.pinned = st.pinned === t.q ? null : t.q;
      update();
    });
    if (selS) selS.addEventListener("change", function () {
      st.s = +selS.value; st.pinned = null; st.hover = null; st.cell = null; fillLayerHead(); render();
    });
    selL.addEventListener("change", function () { st.layer = +selL.value; render(); });
    selH.addEventListener("change", function () {
      st.head = selH.value === "mean" ? "mean" : +selH.value; render();
    });
    tau.addEventListener("input", function () { st.tau = Math.pow(10, +tau.value); render(); });
    reset.addEventListener("click", function () { st.tau = 1; render(); });
    Object.keys(btns).forEach(function (v) {
      btns[v].addEventListener("click", function () { st.view = v; st.cell = null; render(); });
    });

    fillLayerHead();
    render();
  }

  window.LLMBookAttention = {version: VERSION, mount: mount, temper: temper, decode: decode};
})();
