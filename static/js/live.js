// Live co-editing glue for the htmx SSE extension. A change arrives as rendered fragments,
// each an event named after the element it replaces (sse-swap="<id>"; plans/fragments.py).
// - A fragment is drawn once for every page of its audience: its forms carry a placeholder
//   where this page's CSRF token goes (the "tandem-live" extension puts it in), and what
//   only some viewers see is hidden, marked data-for="<keys>" (plans/viewers.py): it is
//   shown here when this page's viewer (data-viewer on #live) holds one of the keys.
// - Never replace a region while the person is editing inside it: the region is refetched
//   once the edit row closes.
// - A change the page makes itself, while its stream is not open, refreshes every region.
// - After a dropped stream reconnects, refresh every live region (a missed event must not
//   leave a stale page); the same when the server says `refresh` (its own subscription to
//   the events came back after an outage, or it could not render a change).
(function () {
  "use strict";
  // plans/rows.py CSRF_PLACEHOLDER.
  var PLACEHOLDER = "<csrf-placeholder-7d1f0c5e>";
  var opened = false;
  var deferred = new Set();

  function csrfToken() {
    var headers = document.body.getAttribute("hx-headers");
    return headers ? JSON.parse(headers)["X-CSRFToken"] || "" : "";
  }

  htmx.defineExtension("tandem-live", {
    transformResponse: function (text) {
      return text.indexOf(PLACEHOLDER) < 0 ? text : text.split(PLACEHOLDER).join(csrfToken());
    },
  });

  function showMine(root) {
    var live = document.getElementById("live");
    var mine = new Set(((live && live.getAttribute("data-viewer")) || "").split(" ").filter(Boolean));
    var marked = root.querySelectorAll ? root.querySelectorAll("[data-for]") : [];
    marked.forEach(function (element) {
      var keys = element.getAttribute("data-for").split(" ");
      if (keys.some(function (key) { return mine.has(key); })) element.removeAttribute("hidden");
    });
  }
  htmx.onLoad(showMine);

  function refreshAll() {
    document.querySelectorAll("[data-live-region]").forEach(function (element) {
      htmx.trigger(element, "live-refresh");
    });
  }

  var refreshedOnOpen = false;
  var stream = null;
  document.addEventListener("htmx:sseOpen", function (event) {
    refreshedOnOpen = opened;
    if (opened) refreshAll();
    opened = true;
    var source = event.detail && event.detail.source;
    stream = source || stream;
    if (source && !source.tandemRefresh) {
      source.tandemRefresh = true;
      source.addEventListener("refresh", refreshAll);
      // The stream starts with the deal's revision: a page drawn before a change that
      // committed before its stream started was sent no push for it.
      source.addEventListener("revision", function (message) {
        var live = document.getElementById("live");
        if (!live) return;
        var drawn = live.getAttribute("data-revision");
        if (!refreshedOnOpen && drawn && Number(message.data) > Number(drawn)) refreshAll();
        live.setAttribute("data-revision", message.data);
      });
    }
  });

  // The page's own change comes back to it through its stream; while the stream is not open
  // (never opened, or reconnecting), the page refetches its regions after the change instead.
  document.addEventListener("htmx:afterRequest", function (event) {
    var detail = event.detail || {};
    var post = detail.requestConfig && detail.requestConfig.verb === "post";
    if (post && detail.successful && !(stream && stream.readyState === EventSource.OPEN)) {
      refreshAll();
    }
  });

  function editing(element) {
    if (!element || !element.matches("[data-preserve-editing]")) return false;
    var active = document.activeElement;
    var typing = active && element.contains(active) && active.matches("input, textarea, select");
    return Boolean(element.querySelector(".editing") || typing);
  }

  // A pushed fragment, or a refetch, for a region being edited: later.
  function deferIfEditing(event, element) {
    if (editing(element)) {
      event.preventDefault();
      deferred.add(element);
    }
  }
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    deferIfEditing(event, event.target);
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    deferIfEditing(event, event.detail.elt);
  });

  document.addEventListener("htmx:afterSettle", function () {
    deferred.forEach(function (element) {
      if (!document.body.contains(element)) { deferred.delete(element); return; }
      if (!editing(element)) {
        deferred.delete(element);
        htmx.trigger(element, "live-refresh");
      }
    });
  });
})();
