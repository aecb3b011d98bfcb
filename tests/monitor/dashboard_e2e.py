#!/usr/bin/python3
"""The dashboard in a real browser (CTest label e2e): headless Chromium from Debian, driven by
Debian's python3-selenium, on the page of a short real run.

1. `ponder train` runs configs/tiny.yaml (a few seconds) into a fresh folder, with per-token
   detail for a quarter of each step's samples (monitor.token_details);
   `ponder dashboard --runs` serves that folder on a free port.
2. The overview: every curated chart has data points.
3. The sample browser: opening a sample shows its response, as the run's samples file has it;
   its token view shows each token of samples/step_N_tokens.jsonl, coloured wherever the file
   has a value, in each colouring (log-prob, entropy, mismatch).
4. A step appended to metrics.jsonl shows up on the page within 2 s.
5. A screenshot of the overview is saved (--screenshot).
6. An address naming a run that does not exist yet (what `ponder demo` prints before its RL run
   starts) shows that run, with the overlay it names, as soon as it appears.

Usage: dashboard_e2e.py --ponder build/cli/ponder --source . --screenshot out.png
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

OVERVIEW = ["reward", "heldout", "length", "truncation", "entropy", "kl", "clipfrac",
            "mismatch", "zero_variance", "throughput", "step_time", "loss"]


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def train(ponder, source, runs):
    run_dir = os.path.join(runs, "tiny")
    command = [ponder, "train", "--config", os.path.join(source, "configs/tiny.yaml"),
               "run.dir=" + run_dir, "monitor.token_details=0.25"]
    result = subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        fail("ponder train failed:\n" + result.stderr[-4000:])
    return run_dir


def start_dashboard(ponder, runs):
    process = subprocess.Popen([ponder, "dashboard", "--runs", runs, "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    match = re.search(r"at (http://\S+/)", line)
    if not match:
        process.kill()
        fail("ponder dashboard did not say where it serves: " + line)
    return process, match.group(1)


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--user-data-dir=" + profile, "--window-size=1400,1000"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def check_page(driver, url, run_dir, screenshot):
    wait = WebDriverWait(driver, 30)
    driver.get(url)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")

    # 2. Every overview chart has data.
    def charts_filled(d):
        points = {c.get_attribute("data-chart"): int(c.get_attribute("data-points") or 0)
                  for c in d.find_elements(By.CSS_SELECTOR, "#overview .chart")}
        return points if all(points.get(name, 0) > 0 for name in OVERVIEW) else False
    try:
        points = wait.until(charts_filled)
    except Exception:
        found = {c.get_attribute("data-chart"): c.get_attribute("data-points")
                 for c in driver.find_elements(By.CSS_SELECTOR, "#overview .chart")}
        fail(f"overview charts without data: {found}")
    print("overview charts and their points:", points, flush=True)

    # 5. The screenshot (before the page moves on).
    driver.save_screenshot(screenshot)

    # 3. A sample: the newest step's first line.
    samples_dir = os.path.join(run_dir, "samples")
    steps = sorted(int(m.group(1)) for m in
                   (re.fullmatch(r"step_(\d+)\.jsonl", n) for n in os.listdir(samples_dir)) if m)
    with open(os.path.join(samples_dir, f"step_{steps[-1]}.jsonl")) as f:
        first = json.loads(f.readline())
    driver.find_element(By.CSS_SELECTOR, "#tabs button[data-tab=samples]").click()
    row = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, '.sample-row[data-index="0"]')))
    row.click()
    text = wait.until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, "#sample-detail .response-text"))).text
    if text.strip() != first["response"].strip():
        fail(f"sample 0 of step {steps[-1]} shows {text!r}, its file has {first['response']!r}")
    print(f"sample 0 of step {steps[-1]}: response {text!r} found", flush=True)
    check_token_view(driver, os.path.join(samples_dir, f"step_{steps[-1]}_tokens.jsonl"), first)

    # 4. A new step, live.
    driver.find_element(By.CSS_SELECTOR, "#tabs button[data-tab=overview]").click()
    metrics_path = os.path.join(run_dir, "metrics.jsonl")
    step = int(driver.find_element(By.ID, "last-step").text) + 1
    before = int(driver.find_element(By.CSS_SELECTOR, '.chart[data-chart="reward"]')
                 .get_attribute("data-points"))
    record = {"step": step, "wall_time": time.time(),
              "metrics": {"reward/score/mean": 0.5, "reward/accuracy": 0.5}}
    written = time.monotonic()
    with open(metrics_path, "a") as f:
        f.write(json.dumps(record) + "\n")
    try:
        WebDriverWait(driver, 2, poll_frequency=0.05).until(
            lambda d: d.find_element(By.ID, "last-step").text == str(step) and
            int(d.find_element(By.CSS_SELECTOR, '.chart[data-chart="reward"]')
                .get_attribute("data-points")) > before)
    except Exception:
        fail(f"step {step} did not appear within 2 s of being written")
    print(f"new step {step} on the page {time.monotonic() - written:.2f} s after it was written",
          flush=True)


def check_token_view(driver, tokens_path, sample):
    """The token view of `sample` (open in the sample browser) against its line of the step's
    token file: the same tokens, each coloured where the colouring has a value for it."""
    if not os.path.exists(tokens_path):
        fail(f"ponder train wrote no {tokens_path} with monitor.token_details set")
    with open(tokens_path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    mine = [d for d in lines if d["prompt_uid"] == sample["prompt_uid"]
            and d["sample_index"] == sample["sample_index"]]
    if len(mine) != 1:
        fail(f"{tokens_path} has {len(mine)} lines for the first sample of its step (want 1)")
    detail = mine[0]
    wait = WebDriverWait(driver, 30)
    wait.until(EC.element_to_be_clickable((By.ID, "open-token-view"))).click()
    spans_js = ("return [...document.querySelectorAll('#token-view .tok')]"
                ".map(s => [s.textContent, s.style.backgroundColor])")

    def at(key, i):
        values = detail.get(key)
        return values[i] if isinstance(values, list) and i < len(values) else None

    def value(mode, i):  # as tokens.js picks it
        logprob, behaviour = at("logprobs", i), at("behaviour_logprobs", i)
        if mode == "logprob":
            return logprob if logprob is not None else behaviour
        if mode == "entropy":
            return at("entropy", i)
        return None if logprob is None or behaviour is None else abs(logprob - behaviour)

    for mode in ["logprob", "entropy", "mismatch"]:
        Select(wait.until(EC.presence_of_element_located((By.ID, "token-mode")))) \
            .select_by_value(mode)
        spans = wait.until(lambda d: d.execute_script(spans_js) or False)
        if [text for text, _ in spans] != detail["tokens"]:
            fail(f"token view ({mode}) shows {[t for t, _ in spans]}, the file has "
                 f"{detail['tokens']}")
        want = [value(mode, i) is not None for i in range(len(spans))]
        got = [bool(colour) for _, colour in spans]
        if got != want or not any(got):
            fail(f"token view ({mode}): coloured {got}, values in the file {want}")
        print(f"token view ({mode}): {len(spans)} tokens, {sum(got)} coloured", flush=True)


def check_wanted_run(driver, url, runs, run_dir):
    driver.get("about:blank")  # a new page load, not a change of the hash
    driver.get(url + "#run=later&overlay=tiny")
    wait = WebDriverWait(driver, 30)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    if driver.find_element(By.ID, "run").get_attribute("value") != "tiny":
        fail("before the run 'later' exists the page should show the only run, 'tiny'")
    later = os.path.join(runs, "later")
    os.makedirs(later)
    shutil.copy(os.path.join(run_dir, "metrics.jsonl"), later)
    try:
        WebDriverWait(driver, 10, poll_frequency=0.05).until(
            lambda d: d.find_element(By.ID, "run").get_attribute("value") == "later" and
            d.find_element(By.ID, "overlay").get_attribute("value") == "tiny")
    except Exception:
        fail("the page did not switch to the run 'later' (overlay 'tiny') when it appeared")
    print("a run named by the address is shown when it appears", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ponder", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--screenshot", required=True)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="ponder_dashboard_e2e_")
    dashboard = driver = None
    try:
        runs = os.path.join(work, "runs")
        run_dir = train(args.ponder, args.source, runs)
        dashboard, url = start_dashboard(args.ponder, runs)
        driver = browser(os.path.join(work, "profile"))
        check_page(driver, url, run_dir, args.screenshot)
        check_wanted_run(driver, url, runs, run_dir)
        print(f"screenshot: {args.screenshot}")
        print("1 passed, 0 failed")
    finally:
        if driver is not None:
            driver.quit()
        if dashboard is not None:
            dashboard.terminate()
            dashboard.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
