// Customer broadcasts: the compose page's live preview, and the incident page's live progress.
(function () {
  "use strict";

  // Compose: post the form (with its CSRF token) on every change; show the server's escaped preview.
  function livePreview(form, panel) {
    var timer = null, latest = 0;
    function refresh() {
      var mine = ++latest;
      panel.setAttribute("aria-busy", "true");
      fetch(form.getAttribute("data-preview-url"), {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: {"Accept": "text/html"}
      }).then(function (response) {
        if (response.redirected) { throw new Error("Your session has ended: log in again to see the preview."); }
        if (!response.ok && response.status !== 422 && response.status !== 409) {
          throw new Error("The preview is not available (" + response.status + ").");
        }
        return response.text();
      }).then(function (html) {
        if (mine === latest) { panel.innerHTML = html; }
      }).catch(function (error) {
        if (mine === latest) { panel.textContent = error.message; }
      }).then(function () {
        if (mine === latest) { panel.removeAttribute("aria-busy"); }
      });
    }
    function soon() {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    }
    form.addEventListener("input", soon);
    form.addEventListener("change", soon);
    refresh();
  }

  // The incident page: every 2 s, each broadcast's status, next send, counts and bar.
  function liveProgress(section) {
    var url = section.getAttribute("data-progress-url");
    var parts = ["delivered", "sent", "failed", "skipped", "cancelled", "queued"];
    function show(b) {
      var row = section.querySelector('[data-broadcast="' + b.id + '"]');
      if (!row) { return; }
      var status = row.querySelector(".b-status");
      if (status && status.textContent !== b.state) {
        status.textContent = b.state;
        status.className = "status b-status " + b.state;
      }
      var next = row.querySelector(".b-next");
      if (next) { next.textContent = b.next_send; }
      Object.keys(b.counts).forEach(function (name) {
        var cell = row.querySelector('[data-count="' + name + '"]');
        if (cell) { cell.textContent = String(b.counts[name]); }
      });
      var x = 0;
      parts.forEach(function (name) {
        var rect = row.querySelector('rect[data-part="' + name + '"]');
        var width = b.total ? 100 * (b.counts[name] || 0) / b.total : 0;
        if (rect) {
          rect.setAttribute("x", x.toFixed(2));
          rect.setAttribute("width", width.toFixed(2));
        }
        x += width;
      });
      row.querySelectorAll(".pending-only").forEach(function (el) { el.hidden = !b.pending; });
      row.querySelectorAll(".cancellable-only").forEach(function (el) { el.hidden = !b.cancellable; });
    }
    function poll() {
      if (document.hidden || !section.querySelector("[data-broadcast]")) { return; }
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.ok && !response.redirected ? response.json() : null; })
        .then(function (data) { if (data) { data.broadcasts.forEach(show); } })
        .catch(function () { /* the next poll tries again */ });
    }
    setInterval(poll, 2000);
  }

  function start() {
    var form = document.getElementById("broadcast-form");
    var panel = document.getElementById("broadcast-preview");
    if (form && panel) { livePreview(form, panel); }
    var section = document.getElementById("broadcasts");
    if (section && section.getAttribute("data-progress-url")) { liveProgress(section); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
