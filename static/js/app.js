// Small behaviours for every page. No inline handlers anywhere (strict CSP).
(function () {
  "use strict";

  // Buttons with data-copy="text" copy that text to the clipboard.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    event.preventDefault();
    navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });

  // Forms with data-confirm="question" ask before submitting.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // Close open dropdowns when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.dropdown[open]").forEach(function (details) {
      if (!details.contains(event.target)) details.removeAttribute("open");
    });
  });
})();

// A "file ready" fragment swapped in by htmx starts its download once.
document.addEventListener("htmx:afterSettle", function () {
  document.querySelectorAll("a[data-auto-download]:not([data-started])").forEach(function (link) {
    link.setAttribute("data-started", "1");
    link.click();
  });
});

// <time data-relative datetime="…">: the server writes the moment in full (true however long
// the HTML was cached); here it reads "5 minutes ago", with the full moment as its title, and
// stays current while the page is open.
(function () {
  "use strict";
  var format = window.Intl && Intl.RelativeTimeFormat
    ? new Intl.RelativeTimeFormat("en", { numeric: "auto" })
    : null;
  var units = [
    ["year", 365 * 24 * 3600], ["month", 30 * 24 * 3600], ["week", 7 * 24 * 3600],
    ["day", 24 * 3600], ["hour", 3600], ["minute", 60]
  ];

  function relative(date) {
    var seconds = (date.getTime() - Date.now()) / 1000;
    if (Math.abs(seconds) < 45) return "just now";
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1] || units[i][0] === "minute") {
        return format.format(Math.round(seconds / units[i][1]), units[i][0]);
      }
    }
  }

  function refresh() {
    if (!format) return;
    document.querySelectorAll("time[data-relative]").forEach(function (element) {
      var date = new Date(element.getAttribute("datetime"));
      if (isNaN(date.getTime())) return;
      if (!element.title) element.title = element.textContent.trim();
      element.textContent = relative(date);
    });
  }

  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:afterSettle", refresh);
  setInterval(refresh, 30000);
})();
