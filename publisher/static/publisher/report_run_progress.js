// Report runs in the admin: each run's progress bar, and its row's sent, failed and skipped counts in the list,
// follow its deliveries, from the run's JSON every 2 seconds, until the run is finished (a static file: the site's
// Content-Security-Policy refuses inline script).
"use strict";
(function () {
  const POLL_MS = 2000;

  function follow(element) {
    const bar = element.querySelector("progress");
    const text = element.querySelector(".report-run-progress-text");
    const row = element.closest("tr"); // in the list; the run's own page has no such columns
    let timer = null;

    function showCount(column, value) {
      const cell = row && row.querySelector(`td.field-${column}`);
      if (cell) {
        cell.textContent = String(value);
      }
    }

    async function refresh() {
      try {
        const response = await fetch(element.dataset.url, { credentials: "same-origin" });
        if (!response.ok) {
          return;
        }
        const run = await response.json();
        const done = run.sent + run.failed + run.skipped;
        bar.max = run.total;
        bar.value = done;
        text.textContent = `${done} of ${run.total} done (${run.sent} sent, ${run.failed} failed, ${run.skipped} skipped)`;
        showCount("sent", run.sent);
        showCount("failed", run.failed);
        showCount("skipped", run.skipped);
        if (run.finished) {
          clearInterval(timer);
        }
      } catch (error) {
        // A network hiccup: the next tick tries again.
      }
    }

    timer = setInterval(refresh, POLL_MS);
    refresh();
  }

  function start() {
    document.querySelectorAll(".report-run-progress[data-url]").forEach(follow);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
