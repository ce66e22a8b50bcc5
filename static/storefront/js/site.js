/* TicketFlow site script: hold countdowns and forms that must be sent only once. */
(function () {
  "use strict";

  // <span data-deadline="ISO time">: minutes and seconds left, ticking (role="timer" is not announced each second).
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (node) {
      var left = Math.max(0, Math.round((Date.parse(node.dataset.deadline) - now) / 1000));
      var text = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (node.textContent !== text) node.textContent = text;
      node.closest("[data-countdown]")?.classList.toggle("is-urgent", left < 60);
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);

  // A live part swapped in by htmx says what changed through the page's one stable live region.
  document.addEventListener("htmx:afterSwap", function () {
    var announcer = document.getElementById("status-announcer");
    var source = document.querySelector("[data-announce]");
    if (announcer && source && announcer.textContent !== source.dataset.announce) {
      announcer.textContent = source.dataset.announce;
    }
  });

  // <form data-submit-once>: a second click while the first request is on its way does nothing
  // (the server's idempotency token makes a repeated request harmless anyway).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("[data-submit-once]")) return;
    if (form.dataset.sent === "true") {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "true";
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.setAttribute("aria-busy", "true");
      if (button.dataset.busyText) button.textContent = button.dataset.busyText;
    });
  });
  // Back-forward cache: a form restored from history may be sent again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sent]").forEach(function (form) {
      delete form.dataset.sent;
      form.querySelectorAll("button[aria-busy]").forEach(function (button) {
        button.removeAttribute("aria-busy");
        if (button.dataset.idleText) button.textContent = button.dataset.idleText;
      });
    });
  });
})();
