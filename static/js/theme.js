// Applies the light or dark theme remembered in this browser before the page paints.
(function () {
  "use strict";
  var stored = null;
  try { stored = window.localStorage.getItem("theme"); } catch (e) { /* storage disabled */ }
  var theme = stored === "dark" || stored === "light" ? stored
    : (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  document.documentElement.setAttribute("data-bs-theme", theme);
})();
