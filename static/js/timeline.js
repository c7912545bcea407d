// Draws the plan timeline (Frappe Gantt) from the JSON in its data-timeline attribute, and
// again whenever htmx swaps in a fresh timeline region. (Not a json_script block: htmx
// drops <script> elements from swapped fragments.) The vendored chart inserts every string
// as text (static/vendor/README.md), so a step's title stays a title.
(function () {
  "use strict";

  function draw(root) {
    (root || document).querySelectorAll("[data-timeline]").forEach(function (target) {
      if (typeof Gantt === "undefined") return;
      var data = JSON.parse(target.getAttribute("data-timeline"));
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
