// SLA clocks: every <time class="countdown" datetime="…"> counts down to its deadline.
(function () {
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function format(seconds) {
    var s = Math.abs(Math.round(seconds)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + ":" + pad(m) : m) + ":" + pad(s % 60);
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.countdown[datetime]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("datetime")) - now) / 1000;
      el.textContent = left >= 0 ? format(left) + " left" : "overdue by " + format(left);
      el.classList.toggle("overdue", left < 0);
    });
  }
  tick();
  setInterval(tick, 1000);
})();
