// The token view: each generated token coloured by the trainer's log-prob, the entropy of the
// policy there, or the rollout-vs-trainer log-prob mismatch (samples/step_N_tokens.jsonl).
"use strict";
window.Ponder = window.Ponder || {};

(function (P) {
  const MODES = {
    logprob: {
      label: "log-prob", low: "#d7301f", high: "#ffffff",
      value: (d, i) => pick(d.logprobs, d.behaviour_logprobs, i),
      // Probability 0 -> red, 1 -> white.
      shade: v => Math.exp(v),
      legend: "p = 0 … 1",
    },
    entropy: {
      label: "entropy", low: "#ffffff", high: "#6a3d9a",
      value: (d, i) => at(d.entropy, i),
      shade: (v, max) => (max > 0 ? v / max : 0),
      legend: "0 … max in this sample",
    },
    mismatch: {
      label: "mismatch |trainer − rollout|", low: "#ffffff", high: "#e6550d",
      value: (d, i) => {
        const a = at(d.logprobs, i), b = at(d.behaviour_logprobs, i);
        return a === null || b === null ? null : Math.abs(a - b);
      },
      shade: (v, max) => (max > 0 ? v / max : 0),
      legend: "0 … max in this sample",
    },
  };

  function at(list, i) {
    return Array.isArray(list) && i < list.length && list[i] !== null ? list[i] : null;
  }
  function pick(a, b, i) { const v = at(a, i); return v !== null ? v : at(b, i); }

  function mix(from, to, t) {
    const c = s => [1, 3, 5].map(k => parseInt(s.slice(k, k + 2), 16));
    const [a, b] = [c(from), c(to)];
    t = Math.max(0, Math.min(1, t));
    return "rgb(" + a.map((x, k) => Math.round(x + (b[k] - x) * t)).join(",") + ")";
  }

  function fmt(v) { return v === null || v === undefined ? "–" : Number(v).toFixed(4); }

  // Renders `details` ({tokens, logprobs, behaviour_logprobs, entropy, advantage, loss_mask})
  // into `parent`, with a selector of what colours the tokens.
  P.renderTokens = function (parent, details, mode) {
    mode = mode && MODES[mode] ? mode : "logprob";
    const root = document.createElement("div");
    root.id = "token-view";
    const bar = document.createElement("div");
    bar.className = "toolbar";
    const select = document.createElement("select");
    select.id = "token-mode";
    for (const [key, m] of Object.entries(MODES)) {
      const o = document.createElement("option");
      o.value = key;
      o.textContent = "colour by " + m.label;
      if (key === mode) o.selected = true;
      select.appendChild(o);
    }
    select.addEventListener("change", () => {
      root.remove();
      P.renderTokens(parent, details, select.value);
    });
    bar.appendChild(select);
    const m = MODES[mode];
    const legend = document.createElement("span");
    legend.className = "legend";
    legend.style.background = `linear-gradient(to right, ${m.low}, ${m.high})`;
    const note = document.createElement("span");
    note.className = "meta";
    note.textContent = m.legend + "; faded tokens are outside the loss mask";
    bar.append(legend, note);
    root.appendChild(bar);

    const tokens = details.tokens || [];
    const values = tokens.map((_, i) => m.value(details, i));
    const max = Math.max(0, ...values.filter(v => v !== null));
    const view = document.createElement("div");
    view.className = "token-view";
    tokens.forEach((text, i) => {
      const span = document.createElement("span");
      span.className = "tok";
      span.textContent = text;
      const v = values[i];
      if (v !== null) span.style.background = mix(m.low, m.high, m.shade(v, max));
      if (Array.isArray(details.loss_mask) && details.loss_mask[i] === 0) {
        span.classList.add("masked");
      }
      const adv = Array.isArray(details.advantage) ? at(details.advantage, i) : details.advantage;
      span.title = [`#${i} ${JSON.stringify(text)}`,
                    `trainer log-prob ${fmt(at(details.logprobs, i))}`,
                    `rollout log-prob ${fmt(at(details.behaviour_logprobs, i))}`,
                    `entropy ${fmt(at(details.entropy, i))}`,
                    `advantage ${fmt(adv)}`].join("\n");
      view.appendChild(span);
    });
    root.appendChild(view);
    parent.appendChild(root);
    return root;
  };
})(window.Ponder);
