// Print buttons: a static file, because the Content-Security-Policy forbids inline handlers.
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
