/* Live updates of the book (ADR 14): every element [data-live-book] polls its data-url
   (the book's version for the page's day) every data-interval milliseconds (10 s by
   default) and, when the version changed, fires "appointments-changed" on the body: the
   calendar and the meeting sections reload themselves with htmx on that event. No inline
   script (strict CSP). Paused while the tab is hidden. */
(function () {
  "use strict";

  function watch(element) {
    var interval = parseInt(element.dataset.interval, 10) || 10000;
    var busy = false;

    function poll() {
      if (busy || document.hidden) { return; }
      busy = true;
      var url = element.dataset.url + "&since=" + encodeURIComponent(element.dataset.version || "");
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.status === 200 ? response.json() : null; })
        .then(function (body) {
          if (body && body.version && body.version !== element.dataset.version) {
            element.dataset.version = body.version;
            document.body.dispatchEvent(new CustomEvent("appointments-changed", { bubbles: true }));
          }
        })
        .catch(function () { /* offline for a moment: the next poll tries again */ })
        .then(function () { busy = false; });
    }

    window.setInterval(poll, interval);
  }

  function start() {
    document.querySelectorAll("[data-live-book]").forEach(watch);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
