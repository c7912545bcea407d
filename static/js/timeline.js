// Draws the plan timeline (Frappe Gantt) from the JSON embedded in the page, and again
// whenever htmx swaps in a fresh timeline region.
(function () {
  "use strict";

  function draw(root) {
    (root || document).querySelectorAll("[data-timeline]").forEach(function (target) {
      var source = document.getElementById(target.getAttribute("data-timeline"));
      if (!source || typeof Gantt === "undefined") return;
      var data = JSON.parse(source.textContent);
      target.textContent = "";
      if (!data.tasks.length) return;
      new Gantt(target, data.tasks, {
        view_mode: "Week",
        readonly: true,
        today_button: false,
        view_mode_select: false,
        popup_on: "hover",
        holidays: {},
        infinite_padding: false,
        scroll_to: "start",
        bar_height: 20,
        padding: 12,
        column_width: 40,
        upper_header_height: 36,
        lower_header_height: 26,
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.elt && event.detail.elt.id === "timeline") draw(event.detail.elt.parentNode);
  });
})();
