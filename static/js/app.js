// Chairtime's own script: small progressive enhancements, no inline handlers (CSP).
(function () {
  "use strict";
  // Switchers (branch, language) submit as soon as a choice is made.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit")) {
      target.form.requestSubmit();
    }
  });
})();

// Calendar colours come from data (staff profiles); set through the CSSOM because the
// Content Security Policy forbids inline style attributes.
function paintSwatches(root) {
  root.querySelectorAll("[data-colour]").forEach(function (element) {
    var colour = element.getAttribute("data-colour");
    if (/^#[0-9a-fA-F]{6}$/.test(colour)) { element.style.backgroundColor = colour; }
  });
}
document.addEventListener("DOMContentLoaded", function () { paintSwatches(document); });
document.addEventListener("htmx:afterSwap", function (event) { paintSwatches(event.target); });
