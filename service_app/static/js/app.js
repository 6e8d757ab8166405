// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // <select data-autosubmit> submits its form when changed (filters, language).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
  // <form data-confirm="…"> asks before submitting.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  // <button data-print> prints the page (the quarter report).
  document.querySelectorAll("[data-print]").forEach(function (el) {
    el.addEventListener("click", function () { window.print(); });
  });
  // <input type="checkbox" data-check-all="NAME"> ticks or clears every NAME box of its form.
  document.querySelectorAll("input[data-check-all]").forEach(function (all) {
    all.addEventListener("change", function () {
      all.form.querySelectorAll('input[type="checkbox"][name="' + all.getAttribute("data-check-all") + '"]').forEach(function (box) {
        box.checked = all.checked;
      });
    });
  });
  // The admin-only "accept an invalid code" reason appears only when the box is ticked.
  var accept = document.getElementById("accept_invalid_code");
  var reason = document.getElementById("credit-code-exception-group");
  if (accept && reason) {
    var sync = function () { reason.classList.toggle("d-none", !accept.checked); };
    accept.addEventListener("change", sync);
    sync();
  }
  // <… data-refresh-seconds="N"> reloads the page after N seconds (a background export's progress).
  var refresh = document.querySelector("[data-refresh-seconds]");
  if (refresh) {
    var seconds = parseInt(refresh.getAttribute("data-refresh-seconds"), 10) || 5;
    window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }
})();
