// The step timeline, the worker table and the resolved config.
"use strict";
window.Ponder = window.Ponder || {};

(function (P) {
  const PHASES = [
    ["timing/gen_s", "generation", "#2f6fed"],
    ["timing/reward_s", "reward", "#e8590c"],
    ["timing/update_s", "update", "#2b8a3e"],
    ["timing/sync_s", "weight sync", "#7048e8"],
    ["timing/eval_s", "evaluation", "#868e96"],
  ];

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  P.renderTimeline = async function (parent) {
    const answer = await P.api("/api/steps", {run: P.state.run});
    const legend = el("div", "meta");
    for (const [, label, colour] of PHASES) {
      const swatch = el("span", "swatch");
      swatch.style.background = colour;
      legend.append(swatch, label);
    }
    const rows = [legend];
    const totals = answer.step.map((_, i) => {
      const step = answer.timing["timing/step_s"];
      const parts = PHASES.reduce((sum, [name]) => sum + ((answer.timing[name] || [])[i] || 0), 0);
      return Math.max(parts, step ? step[i] || 0 : 0);
    });
    const longest = Math.max(1e-9, ...totals);
    answer.step.forEach((step, i) => {
      const row = el("div", "timeline-row");
      row.dataset.step = step;
      const bar = el("div", "bar");
      for (const [name, label, colour] of PHASES) {
        const v = (answer.timing[name] || [])[i];
        if (!v) continue;
        const part = el("span");
        part.style.width = (100 * v / longest) + "%";
        part.style.background = colour;
        part.title = `${label}: ${v.toFixed(3)} s`;
        bar.appendChild(part);
      }
      row.append(el("span", null, "step " + step), bar, el("span", "meta", totals[i].toFixed(2) + " s"));
      rows.push(row);
    });
    if (answer.step.length === 0) rows.push(el("p", "hint", "No steps yet."));
    parent.replaceChildren(...rows);
  };

  P.renderWorkers = async function (parent) {
    const answer = await P.api("/api/workers", {run: P.state.run});
    const workers = answer.workers || [];
    if (!workers.length) {
      parent.replaceChildren(el("p", "hint",
        "No worker status for this run (an in-process run reports its rollout engine here; " +
        "a run directory may hold workers.json)."));
      return;
    }
    const keys = [];
    for (const w of workers) for (const k of Object.keys(w)) if (!keys.includes(k)) keys.push(k);
    const t = el("table");
    t.id = "worker-table";
    const head = el("tr");
    keys.forEach(k => head.appendChild(el("th", null, k)));
    t.appendChild(head);
    for (const w of workers) {
      const tr = el("tr");
      for (const k of keys) {
        const v = w[k];
        tr.appendChild(el("td", null,
          typeof v === "number" && !Number.isInteger(v) ? v.toFixed(3)
                                                        : typeof v === "object" ? JSON.stringify(v) : v));
      }
      t.appendChild(tr);
    }
    parent.replaceChildren(t);
  };

  P.renderConfig = async function (parent) {
    try {
      const answer = await P.api("/api/config", {run: P.state.run});
      parent.textContent = answer.yaml;
    } catch (e) {
      parent.textContent = e.message;
    }
  };
})(window.Ponder);
