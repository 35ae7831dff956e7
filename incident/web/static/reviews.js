// Post-incident reviews: each section's live preview (rendered by the server, which escapes it),
// and the print-ready page's Print button.
(function () {
  "use strict";

  function livePreview(form) {
    var timer = null, latest = 0;
    var boxes = {};
    Array.prototype.forEach.call(form.querySelectorAll("[data-preview-for]"), function (box) {
      boxes[box.getAttribute("data-preview-for")] = box;
    });
    function show(html) {
      var holder = document.createElement("template");
      holder.innerHTML = html;
      Array.prototype.forEach.call(holder.content.querySelectorAll("[data-section]"), function (part) {
        var box = boxes[part.getAttribute("data-section")];
        if (box) { box.innerHTML = part.innerHTML; }
      });
    }
    function refresh() {
      var mine = ++latest;
      form.setAttribute("aria-busy", "true");
      fetch(form.getAttribute("data-preview-url"), {
        method: "POST", body: new FormData(form), credentials: "same-origin", headers: {"Accept": "text/html"}
      }).then(function (response) {
        if (response.redirected) { throw new Error("Your session has ended: log in again to see the preview."); }
        if (!response.ok) { throw new Error("The preview is not available (" + response.status + ")."); }
        return response.text();
      }).then(function (html) {
        if (mine === latest) { show(html); }
      }).catch(function (error) {
        if (mine === latest) {
          Object.keys(boxes).forEach(function (name) { boxes[name].textContent = error.message; });
        }
      }).then(function () {
        if (mine === latest) { form.removeAttribute("aria-busy"); }
      });
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    });
    refresh();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("review-form");
    if (form && form.getAttribute("data-preview-url")) { livePreview(form); }
    Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  });
})();
