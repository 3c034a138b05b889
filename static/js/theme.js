// The light or dark theme: the choice remembered in this browser, or else the system's setting,
// applied before the page paints (this script is not deferred), and kept current when the system's
// setting changes. Then the page's theme controls: "Dark mode" (a toggle button with a fixed name
// whose pressed state says whether the dark theme is on) and "Use system setting", shown while a
// choice is remembered, which forgets it.
(function () {
  "use strict";
  var KEY = "theme";
  var root = document.documentElement;
  var system = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return value === "dark" || value === "light" ? value : null;
    } catch (e) { return null; /* storage disabled: follow the system */ }
  }

  function remember(theme) {
    try {
      if (theme) { window.localStorage.setItem(KEY, theme); } else { window.localStorage.removeItem(KEY); }
    } catch (e) { /* storage disabled: the choice lasts for this page */ }
  }

  function systemTheme() {
    return system && system.matches ? "dark" : "light";
  }

  function apply() {
    root.setAttribute("data-bs-theme", stored() || systemTheme());
    var dark = root.getAttribute("data-bs-theme") === "dark";
    var chosen = stored() !== null;
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      button.setAttribute("aria-pressed", dark ? "true" : "false");
    });
    document.querySelectorAll("[data-theme-system]").forEach(function (button) {
      button.hidden = !chosen;
    });
  }

  apply();
  if (system) {
    system.addEventListener("change", apply); // a remembered choice still wins
  }
  // Another tab of this site changed or forgot the choice.
  window.addEventListener("storage", function (event) {
    if (event.key === KEY || event.key === null) { apply(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      button.addEventListener("click", function () {
        remember(root.getAttribute("data-bs-theme") === "dark" ? "light" : "dark");
        apply();
      });
    });
    document.querySelectorAll("[data-theme-system]").forEach(function (button) {
      button.addEventListener("click", function () {
        remember(null);
        apply();
        // The button disappears: keep the keyboard on the theme toggle beside it.
        var toggle = button.parentElement.querySelector("[data-theme-toggle]");
        if (toggle) { toggle.focus(); }
      });
    });
    apply();
  });
})();
