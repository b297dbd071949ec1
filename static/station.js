// Release station: sign out after 60 s without a touch or a key (the server also
// forgets the person after 90 s idle). The only script the station needs.
(function () {
  var form = document.getElementById("idle-logout");
  if (!form) return;
  var timer;
  function arm() {
    clearTimeout(timer);
    timer = setTimeout(function () { form.submit(); }, 60000);
  }
  ["touchstart", "keydown", "click", "mousemove", "scroll"].forEach(function (e) {
    document.addEventListener(e, arm, { passive: true });
  });
  arm();
})();
