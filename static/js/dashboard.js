// Draws the dashboard's charts (Chart.js) from the configurations embedded in the page as
// JSON (json_script "dashboard-charts"): one <canvas data-chart="name"> per chart. Every
// chart has a table or text next to it with the same numbers, so nothing is lost without JS.
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("dashboard-charts");
    if (!source || typeof Chart === "undefined") return;
    var charts = JSON.parse(source.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var config = charts[canvas.getAttribute("data-chart")];
      if (!config) return;
      var existing = Chart.getChart(canvas);
      if (existing) existing.destroy();
      new Chart(canvas, config);
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
