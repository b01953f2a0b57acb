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

// The appointment book: appointments are placed on the calendar grid by the row and span
// the server computed (data-row, data-span, data-lane), set through the CSSOM for the
// same reason as the colours above.
function placeOnGrid(root) {
  root.querySelectorAll("[data-row]").forEach(function (element) {
    var row = parseInt(element.getAttribute("data-row"), 10);
    var span = parseInt(element.getAttribute("data-span") || "1", 10);
    var lane = parseInt(element.getAttribute("data-lane") || "0", 10);
    if (row > 0 && span > 0) { element.style.gridRow = row + " / span " + span; }
    if (lane >= 0) { element.style.gridColumn = String(lane + 1); }
  });
  root.querySelectorAll("[data-lanes]").forEach(function (element) {
    var lanes = parseInt(element.getAttribute("data-lanes"), 10);
    if (lanes > 1) { element.style.gridTemplateColumns = "repeat(" + lanes + ", minmax(0, 1fr))"; }
  });
}
document.addEventListener("DOMContentLoaded", function () { placeOnGrid(document); });
document.addEventListener("htmx:load", function (event) {
  placeOnGrid(event.target);
  paintSwatches(event.target);
});

// Dialogs: content swapped into a <dialog> opens it; [data-close-dialog] closes it.
document.addEventListener("htmx:afterSwap", function (event) {
  var dialog = event.target.closest ? event.target.closest("dialog") : null;
  if (dialog && !dialog.open) { dialog.showModal(); }
});
document.addEventListener("click", function (event) {
  var closer = event.target.closest ? event.target.closest("[data-close-dialog]") : null;
  if (closer) { closer.closest("dialog").close(); }
});
