// The post form's live preview: beside the Markdown editor, the text as the public page will show it. The server
// renders it with the page's own sanitizing renderer; this asks for it once the author pauses typing (a static file:
// the site's Content-Security-Policy refuses inline script).
"use strict";
(function () {
  const PAUSE_MS = 300;
  const UNAVAILABLE = "No preview for the moment: the server did not give one.";

  function attach(textarea) {
    const editor = document.createElement("div");
    editor.className = "markdown-editor";
    const preview = document.createElement("div");
    preview.className = "markdown-preview";
    preview.setAttribute("role", "region");
    preview.setAttribute("aria-label", "Preview");
    preview.setAttribute("aria-live", "polite");
    textarea.replaceWith(editor);
    editor.append(textarea, preview);

    let timer = null;
    let latest = 0; // answers may arrive out of order: only the latest request's is shown

    async function refresh() {
      const request = ++latest;
      const body = new URLSearchParams({
        content: textarea.value,
        csrfmiddlewaretoken: textarea.form.elements.csrfmiddlewaretoken.value,
      });
      let ok = false;
      let text = UNAVAILABLE;
      try {
        const response = await fetch(textarea.dataset.markdownPreviewUrl, {
          method: "POST",
          body,
          credentials: "same-origin",
        });
        ok = response.ok;
        text = await response.text();
        if (!ok && !(response.headers.get("Content-Type") || "").startsWith("text/plain")) {
          text = UNAVAILABLE; // an error page, not the preview's own message
        }
      } catch (error) {
        ok = false;
        text = UNAVAILABLE;
      }
      if (request !== latest) {
        return;
      }
      preview.classList.toggle("markdown-preview-error", !ok);
      if (ok) {
        preview.innerHTML = text; // sanitized on the server, as the public page is
      } else {
        preview.textContent = text;
      }
    }

    textarea.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, PAUSE_MS);
    });
    refresh();
  }

  function attachAll() {
    document.querySelectorAll("textarea[data-markdown-preview-url]").forEach(attach);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", attachAll);
  } else {
    attachAll();
  }
})();
