// Portal: while a release is on its way, refresh its progress every 2 s without
// reloading the page (an upload in progress must not be interrupted).
(function () {
  function poll() {
    var section = document.getElementById("releases");
    if (!section || !section.hasAttribute("data-active")) return;
    setTimeout(function () {
      fetch("/portal/releases", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { section.outerHTML = html; poll(); })
        .catch(function () { setTimeout(poll, 5000); });
    }, 2000);
  }
  poll();
})();
