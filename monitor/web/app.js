// The page: run selection, tabs, live updates (server-sent events), and the JSON API.
"use strict";
window.Ponder = window.Ponder || {};

(function (P) {
  const $ = id => document.getElementById(id);
  P.state = {run: "", overlay: "", tab: "overview", info: null};

  P.api = async function (path, params) {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && v !== "") query.set(k, v);
    }
    const res = await fetch(path + (query.toString() ? "?" + query : ""));
    const body = await res.json().catch(() => ({error: res.statusText}));
    if (!res.ok) throw new Error(body.error || res.statusText);
    return body;
  };

  function message(text) { $("message").textContent = text || ""; }

  const overview = new P.Overview($("overview"));
  const sections = new P.Sections($("sections"), $("metric-filter"));
  const samples = new P.Samples();

  // The URL's hash keeps the view: #run=NAME&overlay=NAME&tab=samples
  function saveHash() {
    const h = new URLSearchParams();
    if (P.state.run) h.set("run", P.state.run);
    if (P.state.overlay) h.set("overlay", P.state.overlay);
    h.set("tab", P.state.tab);
    history.replaceState(null, "", "#" + h);
  }

  function showTab(tab) {
    P.state.tab = tab;
    document.querySelectorAll("#tabs button").forEach(
      b => b.classList.toggle("active", b.dataset.tab === tab));
    document.querySelectorAll(".tab").forEach(
      s => s.classList.toggle("active", s.id === "tab-" + tab));
    saveHash();
    refreshTab().catch(e => message(e.message));
    if (tab === "overview") overview.resize();
  }

  async function refreshTab() {
    if (!P.state.run) return;
    if (P.state.tab === "timeline") await P.renderTimeline($("timeline"));
    if (P.state.tab === "workers") await P.renderWorkers($("workers"));
    if (P.state.tab === "config") await P.renderConfig($("config"));
  }

  async function loadRuns() {
    const answer = await P.api("/api/runs");
    const runs = answer.runs.map(r => r.id);
    for (const [select, keep] of [[$("run"), false], [$("overlay"), true]]) {
      const current = select.value;
      const options = runs.map(id => {
        const r = answer.runs.find(x => x.id === id);
        const o = document.createElement("option");
        o.value = id;
        o.textContent = `${id} (${r.num_steps} steps${r.live ? ", live" : ""})`;
        return o;
      });
      if (keep) {
        const none = document.createElement("option");
        none.value = "";
        none.textContent = "none";
        options.unshift(none);
      }
      select.replaceChildren(...options);
      if (current) select.value = current;
    }
    return answer.runs;
  }

  async function selectRun() {
    P.state.run = $("run").value;
    P.state.overlay = $("overlay").value === P.state.run ? "" : $("overlay").value;
    saveHash();
    if (!P.state.run) return;
    const info = await P.api("/api/run", {run: P.state.run});
    P.state.info = info;
    $("last-step").textContent = info.last_step >= 0 ? info.last_step : "–";
    message((info.warnings || []).join("; "));
    await Promise.all([overview.build(info.names), samples.reset(info), refreshTab()]);
    sections.build(info.names);
  }

  const newestRun = runs => runs.reduce((a, b) => (b.last_wall_time > a.last_wall_time ? b : a));

  // Runs appeared: show the run (and overlay) the address asked for before it existed, e.g. a
  // demo's RL run while its warm start runs, unless the user picked a run meanwhile; and when
  // nothing is shown yet, the most recently active run.
  function followRuns(runs) {
    const w = P.state.wanted;
    const has = id => runs.some(r => r.id === id);
    if (w && has(w.run) && (!w.overlay || has(w.overlay))) {
      P.state.wanted = null;
      $("run").value = w.run;
      if (w.overlay) $("overlay").value = w.overlay;
      return selectRun();
    }
    if (!P.state.run && runs.length) {
      $("run").value = newestRun(runs).id;
      return selectRun();
    }
  }

  function connect() {
    const events = new EventSource("/api/events");
    events.addEventListener("hello", () => {
      $("status").classList.add("live");
      // Runs may have appeared while the stream was not open.
      if (P.state.wanted || !P.state.run) {
        loadRuns().then(followRuns).catch(err => message(err.message));
      }
    });
    events.onerror = () => $("status").classList.remove("live");
    events.addEventListener("step", e => {
      const d = JSON.parse(e.data);
      if (d.run !== P.state.run) return;
      $("last-step").textContent = d.last_step;
      const names = new Set(P.state.info ? P.state.info.names : []);
      let fresh = false;
      if (d.metrics) {
        for (const step of d.steps) {
          const m = d.metrics[String(step)] || {};
          for (const n of Object.keys(m)) if (!names.has(n)) fresh = true;
          overview.append(step, m);
          sections.append(step, m);
        }
      }
      if (fresh || !d.metrics) {
        selectRun().catch(err => message(err.message));  // new series: rebuild
      } else if (P.state.tab === "timeline") {
        refreshTab().catch(err => message(err.message));
      }
    });
    events.addEventListener("samples", e => {
      const d = JSON.parse(e.data);
      if (d.run === P.state.run) samples.added(d.kind, d.step);
    });
    events.addEventListener(
        "run", () => loadRuns().then(followRuns).catch(err => message(err.message)));
    events.addEventListener("reload", () => selectRun().catch(err => message(err.message)));
  }

  async function start() {
    document.querySelectorAll("#tabs button").forEach(
      b => b.addEventListener("click", () => showTab(b.dataset.tab)));
    for (const id of ["run", "overlay"]) {
      $(id).addEventListener("change", () => {
        P.state.wanted = null;
        selectRun().catch(e => message(e.message));
      });
    }
    window.addEventListener("resize", () => overview.resize());
    const hash = new URLSearchParams(location.hash.slice(1));
    const runs = await loadRuns();
    if (!runs.length) {
      message("No runs here yet; they appear as soon as they write metrics.");
    }
    const want = hash.get("run");
    if (want && runs.some(r => r.id === want)) {
      $("run").value = want;
    } else {
      if (want) P.state.wanted = {run: want, overlay: hash.get("overlay") || ""};
      if (runs.length) $("run").value = newestRun(runs).id;  // the most recently active run
    }
    if (hash.get("overlay")) $("overlay").value = hash.get("overlay");
    connect();
    await selectRun();
    showTab(hash.get("tab") || "overview");
    // For tests and benchmarks: when the first view was complete, in ms since navigation.
    document.body.dataset.readyMs = String(Math.round(performance.now()));
    document.body.dataset.ready = "true";
  }

  start().catch(e => message(e.message));
})(window.Ponder);
