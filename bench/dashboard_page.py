#!/usr/bin/python3
"""The dashboard page's load times in headless Chromium (run by bench_dashboard with --url of
a dashboard serving a run of 10,000 steps x 200 series): time to a full overview (12 charts
with data, as the page itself records it), and to open the largest section of the "All metrics"
tab and draw its charts."""
import argparse
import shutil
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    profile = tempfile.mkdtemp(prefix="ponder_page_bench_")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + profile,
                 "--window-size=1400,1000"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        wait = WebDriverWait(driver, 120, poll_frequency=0.05)
        driver.get(args.url)
        # The page records when its first view (the overview, every chart loaded and drawn)
        # was complete, in ms since navigation started.
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
        ready = int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready-ms"))
        charts = driver.find_elements(By.CSS_SELECTOR, "#overview .chart")
        points = sum(int(c.get_attribute("data-points") or 0) for c in charts)
        print(f"  overview: {len(charts)} charts, {points} points drawn, {ready} ms after "
              f"navigation started")
        driver.find_element(By.CSS_SELECTOR, "#tabs button[data-tab=metrics]").click()
        sections = driver.find_elements(By.CSS_SELECTOR, "details.section")

        def size(section):
            return int(section.find_element(By.TAG_NAME, "summary").text.split("(")[-1].rstrip(")"))
        largest = max(sections, key=size)
        largest.find_element(By.TAG_NAME, "summary").click()
        wait.until(lambda d: largest.get_attribute("data-drawn-ms"))
        print(f"  the largest section of 'All metrics' ({size(largest)} charts): drawn "
              f"{largest.get_attribute('data-drawn-ms')} ms after it was opened")
        # Responsiveness once shown: a script's round trip through the page's main thread.
        start = time.monotonic()
        for _ in range(20):
            driver.execute_script("return document.querySelectorAll('.chart').length")
        print(f"  a script round trip while shown: {1000 * (time.monotonic() - start) / 20:.1f} ms")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
