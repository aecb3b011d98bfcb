// The sample browser: step -> prompt group -> samples, one sample's details, its tokens, and
// the same prompt across steps.
"use strict";
window.Ponder = window.Ponder || {};

(function (P) {
  const $ = id => document.getElementById(id);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function num(v, digits = 3) {
    return v === null || v === undefined ? "–" : Number(v).toFixed(digits);
  }
  function badge(text, kind) { return el("span", "badge" + (kind ? " " + kind : ""), text); }

  // `text` with the last occurrence of `answer` marked.
  function highlighted(text, answer) {
    const block = el("div", "text-block response-text");
    const at = answer ? text.lastIndexOf(answer) : -1;
    if (at < 0) { block.textContent = text; return block; }
    block.append(text.slice(0, at), el("mark", "answer", answer), text.slice(at + answer.length));
    return block;
  }

  function table(rows) {
    const t = el("table");
    for (const [k, v] of rows) {
      const tr = el("tr");
      tr.append(el("th", null, k), el("td", null, v));
      t.appendChild(tr);
    }
    return t;
  }

  P.Samples = class {
    constructor() {
      this.kind = "train";
      this.step = null;
      this.group = "";
      this.selected = null;
      this.steps = {train: [], eval: []};
      $("sample-kind").addEventListener("change", e => {
        this.kind = e.target.value; this.group = ""; this.fillSteps(); this.load();
      });
      $("sample-step").addEventListener("change", e => {
        this.step = Number(e.target.value); $("follow-live").checked = false; this.load();
      });
      $("step-prev").addEventListener("click", () => this.move(-1));
      $("step-next").addEventListener("click", () => this.move(1));
      for (const id of ["sample-sort", "sample-order"]) {
        $(id).addEventListener("change", () => this.load());
      }
      document.querySelectorAll("#tab-samples .filters input").forEach(
        box => box.addEventListener("change", () => this.load()));
      let timer = null;
      $("sample-search").addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => this.load(), 250);
      });
    }

    // A new run: its sample steps.
    reset(info) {
      this.steps = {train: info.sample_steps || [], eval: info.eval_sample_steps || []};
      this.step = null;
      this.group = "";
      this.selected = null;
      this.fillSteps();
      $("sample-detail").replaceChildren(el("p", "hint", "Pick a sample."));
      return this.load();
    }

    fillSteps() {
      const steps = this.steps[this.kind];
      if (this.step === null || !steps.includes(this.step)) {
        this.step = steps.length ? steps[steps.length - 1] : null;
      }
      const select = $("sample-step");
      select.replaceChildren(...steps.map(s => {
        const o = el("option", null, "step " + s);
        o.value = s;
        o.selected = s === this.step;
        return o;
      }));
    }

    move(delta) {
      const steps = this.steps[this.kind];
      const i = steps.indexOf(this.step) + delta;
      if (i < 0 || i >= steps.length) return;
      this.step = steps[i];
      $("follow-live").checked = false;
      this.fillSteps();
      this.load();
    }

    // A live "samples" event.
    added(kind, step) {
      const steps = this.steps[kind];
      if (!steps.includes(step)) { steps.push(step); steps.sort((a, b) => a - b); }
      if (kind !== this.kind) return;
      if ($("follow-live").checked) this.step = step;
      this.fillSteps();
      if ($("follow-live").checked) this.load();
    }

    params() {
      const filters = [...document.querySelectorAll("#tab-samples .filters input:checked")]
        .map(b => b.value);
      return {run: P.state.run, kind: this.kind, step: this.step, sort: $("sample-sort").value,
              order: $("sample-order").value, filter: filters.join(","),
              q: $("sample-search").value, group: this.group, limit: 500};
    }

    async load() {
      if (this.step === null) {
        $("groups").replaceChildren(el("p", "hint", "No samples in this run yet."));
        $("sample-list").replaceChildren();
        return;
      }
      const answer = await P.api("/api/samples", this.params());
      this.renderGroups(answer);
      this.renderList(answer);
    }

    renderGroups(answer) {
      const list = $("groups");
      const rows = [];
      const all = el("div", "group-row" + (this.group ? "" : " selected"));
      all.append(el("strong", null, "All prompts"),
                 el("div", "meta", `${answer.total} samples, ${Object.keys(answer.groups).length} groups`));
      all.addEventListener("click", () => { this.group = ""; this.load(); });
      rows.push(all);
      for (const [key, g] of Object.entries(answer.groups)) {
        const row = el("div", "group-row" + (key === this.group ? " selected" : ""));
        row.dataset.group = key;
        const meta = el("div", "meta", `mean ${num(g.mean)} · std ${num(g.std)} · n ${g.size}`);
        if (g.zero_variance) meta.appendChild(badge("zero variance", "warn"));
        row.append(el("div", "prompt", g.prompt), meta);
        row.addEventListener("click", () => { this.group = key; this.load(); });
        rows.push(row);
      }
      list.replaceChildren(...rows);
    }

    renderList(answer) {
      const rows = [el("div", "meta", ` ${answer.matched} of ${answer.total} samples match`)];
      for (const s of answer.samples) {
        const row = el("div", "sample-row" + (s.index === this.selected ? " selected" : ""));
        row.dataset.index = s.index;
        const head = el("div");
        head.append(el("strong", null, "reward " + num(s.score)));
        if (s.correct === true) head.appendChild(badge("correct", "good"));
        if (s.correct === false) head.appendChild(badge("wrong", "bad"));
        if (s.finish_reason && s.finish_reason !== "stop") {
          head.appendChild(badge(s.finish_reason, s.finish_reason === "length" ? "warn" : ""));
        }
        if (s.error) head.appendChild(badge("error", "bad"));
        const meta = el("div", "meta",
          `adv ${num(s.advantage)} · ${s.response_tokens ?? "?"} tokens` +
          (s.sample_index !== undefined ? ` · sample ${s.sample_index}` : ""));
        row.append(head, meta, highlighted(s.excerpt || "", s.extracted));
        row.lastChild.className = "excerpt";
        row.addEventListener("click", () => this.open(s.index));
        rows.push(row);
      }
      $("sample-list").replaceChildren(...rows);
    }

    async open(index) {
      this.selected = index;
      document.querySelectorAll(".sample-row").forEach(
        r => r.classList.toggle("selected", Number(r.dataset.index) === index));
      const answer = await P.api("/api/sample",
                                 {run: P.state.run, kind: this.kind, step: this.step, index});
      this.renderDetail(answer);
    }

    renderDetail(answer) {
      const s = answer.sample;
      const pane = $("sample-detail");
      const parts = [el("h4", null, `Step ${answer.step}, sample ${index(s, answer)}`)];
      const buttons = el("div", "toolbar");
      if (answer.tokens) {
        const b = el("button", null, "Token view");
        b.id = "open-token-view";
        b.addEventListener("click", () => {
          const old = document.getElementById("token-view");
          if (old) { old.remove(); return; }
          P.renderTokens(tokenSlot, answer.tokens);
        });
        buttons.appendChild(b);
      }
      if (s.origin || s.prompt) {
        const b = el("button", null, "Follow this prompt across steps");
        b.id = "follow-prompt";
        b.addEventListener("click", () => this.follow(s, historySlot));
        buttons.appendChild(b);
      }
      parts.push(buttons);
      const tokenSlot = el("div");
      const historySlot = el("div");
      parts.push(tokenSlot, historySlot);
      parts.push(el("h4", null, "Response"), highlighted(s.response || "", answer.extracted));
      if (answer.extracted) {
        parts.push(el("div", "meta", "extracted answer: " + answer.extracted));
      }
      parts.push(el("h4", null, "Prompt"), el("div", "text-block", s.prompt || ""));
      const rows = [
        ["reward", num(s.score, 4)], ["shaped reward", num(s.shaped_score, 4)],
        ["correct", s.correct === undefined || s.correct === null ? "–" : String(s.correct)],
        ["advantage", num(s.advantage, 4)], ["finish reason", s.finish_reason || "–"],
        ["response tokens", s.response_tokens ?? "–"], ["weight version", s.weight_version ?? "–"],
        ["ground truth", JSON.stringify(s.ground_truth ?? null)],
        ["origin", s.origin || s.set || "–"],
      ];
      if (s.error) rows.push(["error", s.error]);
      parts.push(el("h4", null, "Outcome"), table(rows));
      if (s.components && Object.keys(s.components).length) {
        parts.push(el("h4", null, "Reward components"),
                   table(Object.entries(s.components).map(([k, v]) => [k, num(v, 4)])));
      }
      if (s.details !== undefined) {
        parts.push(el("h4", null, "Verifier details"),
                   el("pre", "text-block", JSON.stringify(s.details, null, 2)));
      }
      if (s.segments && s.segments.length) {
        parts.push(el("h4", null, "Weight versions [version, begin, end)"),
                   el("div", "meta", JSON.stringify(s.segments)));
      }
      pane.replaceChildren(...parts);
      function index(sample, a) {
        return sample.sample_index !== undefined ? `${sample.sample_index} (line ${a.index})`
                                                 : `line ${a.index}`;
      }
    }

    async follow(sample, slot) {
      const params = {run: P.state.run, kind: this.kind};
      if (sample.origin) params.origin = sample.origin; else params.prompt = sample.prompt;
      const answer = await P.api("/api/prompt", params);
      const t = el("table");
      t.id = "prompt-history";
      const head = el("tr");
      for (const h of ["step", "sample", "reward", "finish", "tokens", "response"]) {
        head.appendChild(el("th", null, h));
      }
      t.appendChild(head);
      for (const r of answer.samples) {
        const tr = el("tr");
        const text = (r.response || "").slice(0, 160);
        tr.append(el("td", null, r.step), el("td", null, r.sample_index ?? "–"),
                  el("td", null, num(r.score)), el("td", null, r.finish_reason || "–"),
                  el("td", null, r.response_tokens ?? "–"));
        const cell = el("td");
        cell.appendChild(highlighted(text, r.extracted));
        cell.firstChild.className = "excerpt";
        tr.appendChild(cell);
        tr.style.cursor = "pointer";
        tr.addEventListener("click", async () => {
          this.step = r.step; this.fillSteps(); $("follow-live").checked = false;
          await this.load(); this.open(r.index);
        });
        t.appendChild(tr);
      }
      slot.replaceChildren(
        el("h4", null, `This prompt in the last ${answer.scanned_files} sample files`), t);
    }
  };
})(window.Ponder);
