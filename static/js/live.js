// Live co-editing glue for the htmx SSE extension.
// - After a dropped stream reconnects, refresh every live region (a missed event must not
//   leave a stale page); the same when the server says `refresh` (its own subscription to
//   the events came back after an outage: events may have been missed while the stream
//   stayed open).
// - Never replace a region while the person is editing inside it: the refresh waits until
//   the edit row closes.
(function () {
  "use strict";
  var opened = false;
  var deferred = new Set();

  function refreshAll() {
    document.querySelectorAll("[data-live-region]").forEach(function (element) {
      htmx.trigger(element, "live-refresh");
    });
  }

  document.addEventListener("htmx:sseOpen", function (event) {
    if (opened) refreshAll();
    opened = true;
    var source = event.detail && event.detail.source;
    if (source && !source.tandemRefresh) {
      source.tandemRefresh = true;
      source.addEventListener("refresh", refreshAll);
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var element = event.detail.elt;
    if (!element || !element.matches("[data-preserve-editing]")) return;
    var active = document.activeElement;
    var typing = active && element.contains(active) && active.matches("input, textarea, select");
    if (element.querySelector(".editing") || typing) {
      event.preventDefault();
      deferred.add(element);
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    deferred.forEach(function (element) {
      if (!document.body.contains(element)) { deferred.delete(element); return; }
      var active = document.activeElement;
      var typing = active && element.contains(active) && active.matches("input, textarea, select");
      if (!element.querySelector(".editing") && !typing) {
        deferred.delete(element);
        htmx.trigger(element, "live-refresh");
      }
    });
  });
})();
