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
