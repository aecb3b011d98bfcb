// Line charts over metric series (uPlot), the curated overview and the per-section view.
"use strict";
window.Ponder = window.Ponder || {};

(function (P) {
  const PALETTE = ["#2f6fed", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0c8599",
                   "#e67700", "#5c940d", "#a61e4d", "#364fc7"];

  // The curated overview: the charts practitioners read first. A chart shows the names
  // listed that the run has, plus those matching `match`.
  P.OVERVIEW = [
    {id: "reward", title: "Reward and accuracy", names: ["reward/score/mean", "reward/accuracy"]},
    {id: "heldout", title: "Held-out mean@k / pass@k", names: [],
     match: /^val\/[^/]+\/(mean@\d+|pass@\d+|greedy_acc)$/},
    {id: "length", title: "Response length (tokens)",
     names: ["rollout/response_len/mean", "rollout/response_len/max", "rollout/response_len/min"]},
    {id: "truncation", title: "Truncation rate", names: ["rollout/truncation_rate"],
     match: /^val\/[^/]+\/truncation_rate$/},
    {id: "entropy", title: "Entropy", names: ["actor/entropy"]},
    {id: "kl", title: "KL (to reference; policy step)", names: ["kl_ref/mean", "actor/ppo_kl"]},
    {id: "clipfrac", title: "Clip fraction", names: ["actor/clipfrac", "actor/clipfrac_lower"]},
    {id: "mismatch", title: "Log-prob mismatch, rollout vs trainer",
     names: ["rollout/logp_mismatch/mean"], match: /^rollout_corr\//},
    {id: "zero_variance", title: "Zero-variance groups", names: ["reward/zero_std_group_frac"]},
    {id: "throughput", title: "Throughput (tokens/s)",
     names: ["perf/gen_tokens_per_s", "perf/train_tokens_per_s"]},
    {id: "step_time", title: "Step time breakdown (s)",
     names: ["timing/step_s", "timing/gen_s", "timing/reward_s", "timing/update_s",
             "timing/sync_s", "timing/eval_s"]},
    {id: "loss", title: "Policy loss and gradient norm", names: ["actor/pg_loss", "actor/grad_norm"]},
  ];

  // Union of the steps of several {step, value} series, each spread over it (null = no point).
  function align(list) {
    const steps = new Set();
    for (const s of list) for (const x of s.step) steps.add(x);
    const xs = Array.from(steps).sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const out = [xs];
    for (const s of list) {
      const ys = new Array(xs.length).fill(null);
      s.step.forEach((x, i) => { ys[index.get(x)] = s.value[i]; });
      out.push(ys);
    }
    return out;
  }

  // Numbers for axes and legends: 3 significant digits, exponents when tiny or huge.
  function fmt(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a < 1e-3 || a >= 1e6) return v.toExponential(2);
    return String(Number(v.toPrecision(4)));
  }
  P.fmt = fmt;

  // A flat series gets a band around its value instead of uPlot's 0..100.
  function yRange(u, min, max) {
    if (min === null || max === null) return [0, 1];
    if (min === max) {
      const pad = Math.abs(min) * 0.1 || 1;
      return [min - pad, max + pad];
    }
    return uPlot.rangeNum(min, max, 0.1, true);
  }

  function shortLabel(name, names) {
    // Drop the section common to all names of the chart: "reward/score/mean" -> "score/mean".
    const first = name.split("/")[0];
    if (names.length > 1 && names.every(n => n.split("/")[0] === first)) {
      return name.slice(first.length + 1);
    }
    return name;
  }

  // One panel: a title and a uPlot chart of `names` for the run (and the overlay run, dashed).
  class Chart {
    constructor(parent, {id, title, names, small}) {
      this.names = names;
      this.el = document.createElement("div");
      this.el.className = "chart" + (small ? " small" : "");
      if (id) this.el.dataset.chart = id;
      this.el.dataset.points = "0";
      const h = document.createElement("h3");
      h.textContent = title;
      this.el.appendChild(h);
      this.body = document.createElement("div");
      this.el.appendChild(this.body);
      parent.appendChild(this.el);
      this.height = small ? 150 : 200;
      this.data = {};      // run -> name -> {step, value}
      this.range = null;   // [from, to] while zoomed
      this.plot = null;
    }

    runs() { return [P.state.run, P.state.overlay].filter(Boolean); }

    async load() {
      const runs = this.runs();
      if (this.names.length === 0) return this.render();
      const width = Math.max(200, this.el.clientWidth || 400);
      const params = {names: this.names.join(","), max_points: Math.min(2000, width * 2)};
      if (this.range) { params.from = Math.floor(this.range[0]); params.to = Math.ceil(this.range[1]); }
      const answers = await Promise.all(runs.map(run => P.api("/api/series", {...params, run})));
      this.data = {};
      runs.forEach((run, i) => { this.data[run] = answers[i].series; });
      this.render();
    }

    // New points from a live "step" event of the primary run.
    append(step, metrics) {
      const series = this.data[P.state.run];
      if (!series || this.range) return;
      let changed = false;
      for (const name of this.names) {
        if (!(name in metrics)) continue;
        const s = series[name] || (series[name] = {step: [], value: []});
        const last = s.step.length ? s.step[s.step.length - 1] : -Infinity;
        if (step > last) { s.step.push(step); s.value.push(metrics[name]); changed = true; }
      }
      if (changed) this.render();
    }

    render() {
      const list = [], config = [{label: "step"}];
      let points = 0;
      this.runs().forEach((run, r) => {
        const series = this.data[run] || {};
        this.names.forEach((name, i) => {
          const s = series[name] || {step: [], value: []};
          if (r === 0) points += s.value.filter(v => v !== null).length;
          list.push(s);
          config.push({
            label: (r ? run + ": " : "") + shortLabel(name, this.names),
            stroke: PALETTE[i % PALETTE.length], width: r ? 1 : 1.5,
            dash: r ? [6, 4] : undefined, spanGaps: true,
            points: {show: s.step.length < 60},
            value: (u, v) => fmt(v),
          });
        });
      });
      this.el.dataset.points = String(points);
      if (points === 0 && list.every(s => s.step.length === 0)) {
        if (this.plot) { this.plot.destroy(); this.plot = null; }
        this.body.innerHTML = "";
        const empty = document.createElement("div");
        empty.className = "empty";
        empty.textContent = this.names.length ? "no data yet" : "this run has none of these metrics";
        this.body.appendChild(empty);
        return;
      }
      const data = align(list);
      if (this.plot && this.plot.series.length === config.length) {
        this.plot.setData(data, !this.range);
        return;
      }
      if (this.plot) this.plot.destroy();
      this.body.innerHTML = "";
      const self = this;
      this.plot = new uPlot({
        width: Math.max(200, this.el.clientWidth - 16), height: this.height,
        scales: {x: {time: false}, y: {range: yRange}},
        axes: [
          {values: (u, splits) => splits.map(v => (Number.isInteger(v) ? String(v) : ""))},
          {size: 60, values: (u, splits) => splits.map(fmt)},
        ],
        series: config,
        legend: {live: true},
        cursor: {
          sync: {key: "ponder"},
          bind: {dblclick: () => () => { self.range = null; self.load(); return null; }},
        },
        hooks: {
          setSelect: [u => {
            if (u.select.width < 5) return;
            self.range = [u.posToVal(u.select.left, "x"),
                          u.posToVal(u.select.left + u.select.width, "x")];
            self.load();
          }],
        },
      }, data, this.body);
    }

    resize() {
      if (this.plot) this.plot.setSize({width: Math.max(200, this.el.clientWidth - 16),
                                        height: this.height});
    }

    destroy() { if (this.plot) this.plot.destroy(); this.el.remove(); }
  }
  P.Chart = Chart;

  // Names of the run that a chart spec shows.
  P.namesFor = function (spec, names) {
    const have = new Set(names);
    const out = spec.names.filter(n => have.has(n));
    if (spec.match) for (const n of names) if (spec.match.test(n) && !out.includes(n)) out.push(n);
    return out;
  };

  // The overview tab.
  P.Overview = class {
    constructor(el) { this.el = el; this.charts = []; }
    build(names) {
      this.charts.forEach(c => c.destroy());
      this.charts = P.OVERVIEW.map(spec =>
        new Chart(this.el, {id: spec.id, title: spec.title, names: P.namesFor(spec, names)}));
      return Promise.all(this.charts.map(c => c.load()));
    }
    append(step, metrics) { this.charts.forEach(c => c.append(step, metrics)); }
    resize() { this.charts.forEach(c => c.resize()); }
  };

  // The "all metrics" tab: one collapsible section per name prefix, charts made on opening.
  P.Sections = class {
    constructor(el, filter) {
      this.el = el; this.filter = filter; this.charts = [];
      filter.addEventListener("input", () => this.build(this.names || []));
    }
    build(names) {
      this.names = names;
      this.charts.forEach(c => c.destroy());
      this.charts = [];
      this.el.innerHTML = "";
      const needle = this.filter.value.trim().toLowerCase();
      const sections = new Map();
      for (const n of names) {
        if (needle && !n.toLowerCase().includes(needle)) continue;
        const key = n.includes("/") ? n.split("/")[0] : "(other)";
        if (!sections.has(key)) sections.set(key, []);
        sections.get(key).push(n);
      }
      for (const [key, list] of sections) {
        const d = document.createElement("details");
        d.className = "section";
        d.dataset.section = key;
        const summary = document.createElement("summary");
        summary.textContent = `${key} (${list.length})`;
        d.appendChild(summary);
        const grid = document.createElement("div");
        grid.className = "grid";
        d.appendChild(grid);
        d.addEventListener("toggle", () => {
          if (!d.open || grid.childElementCount) return;
          const start = performance.now();
          const made = list.map(n => new Chart(grid, {title: n, names: [n], small: true}));
          this.charts.push(...made);
          // For benchmarks: how long the section took to draw.
          Promise.all(made.map(c => c.load())).then(() => {
            d.dataset.drawnMs = String(Math.round(performance.now() - start));
          });
        });
        if (needle && sections.size === 1) d.open = true;
        this.el.appendChild(d);
      }
    }
    append(step, metrics) { this.charts.forEach(c => c.append(step, metrics)); }
  };
})(window.Ponder);
