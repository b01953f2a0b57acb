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

// --- Treatment plans ------------------------------------------------------------------------
// The signature pad: a <canvas data-signature-for="ID"> the patient signs on with a finger,
// pen or mouse; each stroke writes the drawing as a PNG data URL into the hidden input ID.
// [data-signature-clear="ID"] wipes both.
function setUpSignaturePads(root) {
  root.querySelectorAll("canvas[data-signature-for]").forEach(function (canvas) {
    if (canvas.dataset.ready) { return; }
    canvas.dataset.ready = "1";
    var input = document.getElementById(canvas.getAttribute("data-signature-for"));
    var context = canvas.getContext("2d");
    var drawing = false;
    context.lineWidth = 2;
    context.lineCap = "round";
    context.strokeStyle = "#1d2733";
    function point(event) {
      var box = canvas.getBoundingClientRect();
      return {
        x: (event.clientX - box.left) * (canvas.width / box.width),
        y: (event.clientY - box.top) * (canvas.height / box.height)
      };
    }
    canvas.addEventListener("pointerdown", function (event) {
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      var p = point(event);
      context.beginPath();
      context.moveTo(p.x, p.y);
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) { return; }
      var p = point(event);
      context.lineTo(p.x, p.y);
      context.stroke();
    });
    function finish() {
      if (!drawing) { return; }
      drawing = false;
      if (input) { input.value = canvas.toDataURL("image/png"); }
    }
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
  });
}
document.addEventListener("click", function (event) {
  var clear = event.target.closest ? event.target.closest("[data-signature-clear]") : null;
  if (!clear) { return; }
  var id = clear.getAttribute("data-signature-clear");
  var canvas = document.querySelector('canvas[data-signature-for="' + id + '"]');
  if (canvas) { canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height); }
  var input = document.getElementById(id);
  if (input) { input.value = ""; }
});

// The acceptance dialog shows the evidence fields of the chosen method only. The root may
// be the form itself (htmx:load fires on the swapped-in form of the dialog).
function showAcceptanceFields(root) {
  var forms = root.matches && root.matches("form.accept-form") ? [root] : root.querySelectorAll("form.accept-form");
  forms.forEach(function (form) {
    var chosen = form.querySelector('input[name="method"]:checked');
    form.querySelectorAll("[data-acceptance]").forEach(function (fieldset) {
      fieldset.hidden = chosen !== null && fieldset.getAttribute("data-acceptance") !== chosen.value;
    });
  });
}
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target instanceof HTMLInputElement && target.name === "method" && target.closest("form.accept-form")) {
    showAcceptanceFields(target.closest("form"));
  }
  // A plan item's price field shows the branch's price for the chosen procedure while empty.
  if (target instanceof HTMLSelectElement && target.hasAttribute("data-price-for")) {
    var field = target.form ? target.form.elements.namedItem(target.getAttribute("data-price-for")) : null;
    var option = target.selectedOptions[0];
    if (field && option) { field.placeholder = option.getAttribute("data-price") || ""; }
  }
});
document.addEventListener("DOMContentLoaded", function () {
  setUpSignaturePads(document);
  showAcceptanceFields(document);
});
document.addEventListener("htmx:load", function (event) {
  setUpSignaturePads(event.target);
  showAcceptanceFields(event.target);
});
