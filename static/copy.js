// Copy buttons (issue 20): any <button data-copy="#id"> copies the text of the element
// #id to the clipboard. The buttons are marked `hidden` in the HTML and shown here, so a
// browser without JavaScript or without the clipboard API (plain http) never sees a
// button that does nothing; the text itself is always on the page to select by hand.
(function () {
  'use strict';
  function ready(fn) {
    if (document.readyState !== 'loading') { fn(); } else { document.addEventListener('DOMContentLoaded', fn); }
  }
  ready(function () {
    if (!navigator.clipboard || !window.isSecureContext) { return; }
    document.querySelectorAll('button[data-copy]').forEach(function (button) {
      var target = document.querySelector(button.getAttribute('data-copy'));
      if (!target) { return; }
      var label = button.textContent;
      button.hidden = false;
      button.addEventListener('click', function (event) {
        event.preventDefault();
        var text = ('value' in target && target.value !== undefined) ? target.value : target.textContent;
        navigator.clipboard.writeText(text.trim()).then(function () {
          button.textContent = 'Copied';
          button.setAttribute('data-copied', 'yes');
          window.setTimeout(function () { button.textContent = label; }, 2000);
        }, function () {
          button.textContent = 'Select and copy by hand';
        });
      });
    });
  });
})();
