// The periodic task form: the chosen crontab, in words, under the crontab field (as django-celery-beat does with
// an inline script, which the site's Content-Security-Policy refuses).
"use strict";
(function () {
  const select = document.getElementById("id_crontab");
  const help = document.querySelector(".field-crontab .help");
  if (!select || !help) {
    return;
  }
  const readable = JSON.parse(document.getElementById("readable-crontabs").textContent);
  const originalHelp = JSON.parse(document.getElementById("crontab-help-text").textContent);

  function showTranslation() {
    help.textContent = originalHelp;
    const words = readable[select.value];
    if (words) {
      help.append(document.createElement("br"), "Translation: " + words);
    }
  }

  // The read-only translation of the saved crontab would disagree with the help once another is chosen.
  document.querySelectorAll(".field-crontab_translation").forEach(function (row) { row.hidden = true; });
  select.addEventListener("change", showTranslation);
  showTranslation();
})();
