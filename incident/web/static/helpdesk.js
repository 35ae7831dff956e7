// The incident page's helpdesk sync: every 2 s, the figures, the bar and the refused tickets.
(function () {
  "use strict";

  function start() {
    var section = document.getElementById("helpdesk");
    if (!section) { return; }
    var url = section.getAttribute("data-progress-url");
    function show(view) {
      ["synced", "linked", "percent", "pending", "jobs_running", "failed_count"].forEach(function (name) {
        var cell = section.querySelector('[data-h="' + name + '"]');
        if (cell) { cell.textContent = String(view[name]); }
      });
      var bar = section.querySelector('rect[data-part="synced"]');
      if (bar) { bar.setAttribute("width", String(view.percent)); }
      var problem = section.querySelector(".h-problem");
      if (problem && view.problem_ticket_id) { problem.textContent = view.problem_ticket_id; }
      var list = section.querySelector(".h-failed");
      if (list) {
        list.textContent = "";
        view.failed.forEach(function (f) {     // text nodes only: a reason is the helpdesk's words
          var item = document.createElement("li");
          var code = document.createElement("code");
          code.textContent = f.external_id;
          item.appendChild(code);
          item.appendChild(document.createTextNode(" " + (f.reason || "")));
          list.appendChild(item);
        });
      }
      var retry = section.querySelector(".h-retry");
      if (retry) { retry.hidden = !view.failed_count; }
    }
    function poll() {
      if (document.hidden) { return; }
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.ok && !response.redirected ? response.json() : null; })
        .then(function (data) { if (data) { show(data); } })
        .catch(function () { /* the next poll tries again */ });
    }
    setInterval(poll, 2000);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
}());
