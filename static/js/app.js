// Page behaviour: the light/dark switch, the "/" shortcut to the history search, and the live
// preview of the SMS with its length and segment count on the send form.
(function () {
  "use strict";

  function setupThemeToggle() {
    var buttons = document.querySelectorAll("[data-theme-toggle]");
    function label() {
      var dark = document.documentElement.getAttribute("data-bs-theme") === "dark";
      buttons.forEach(function (button) {
        button.textContent = dark ? "Light mode" : "Dark mode";
        button.setAttribute("aria-pressed", dark ? "true" : "false");
      });
    }
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        var dark = document.documentElement.getAttribute("data-bs-theme") === "dark";
        var next = dark ? "light" : "dark";
        document.documentElement.setAttribute("data-bs-theme", next);
        try { window.localStorage.setItem("theme", next); } catch (e) { /* storage disabled */ }
      });
    });
    // The labels follow the theme however it changes.
    new MutationObserver(label).observe(document.documentElement, { attributeFilter: ["data-bs-theme"] });
    label();
  }

  function setupSearchShortcut() {
    var search = document.querySelector("[data-search-shortcut]");
    if (!search) { return; }
    document.addEventListener("keydown", function (event) {
      var target = event.target;
      var typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
      if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    });
  }

  // Segments as a phone network counts them. The alphabets, the sizes and the limit come
  // from the server (domain/messages.py, SEGMENT_RULES), so the page and the server count alike.
  function countSegments(text, rules) {
    var gsm = true;
    var septets = 0;
    for (var ch of text) {
      if (rules.extension.indexOf(ch) !== -1) { septets += 2; }
      else if (rules.basic.indexOf(ch) !== -1) { septets += 1; }
      else { gsm = false; break; }
    }
    var encoding = gsm ? "GSM-7" : "UCS-2";
    var length = gsm ? septets : text.length; // String length counts UTF-16 code units
    var sizes = rules.sizes[encoding];
    var segments = length <= sizes[0] ? 1 : Math.ceil(length / sizes[1]);
    return { encoding: encoding, length: length, segments: segments };
  }

  function setupSmsPreview() {
    var message = document.querySelector("[data-sms-preview]");
    if (!message) { return; }
    var preview = document.getElementById(message.getAttribute("data-sms-preview"));
    var text = preview.querySelector("[data-preview-text]");
    var count = preview.querySelector("[data-preview-count]");
    var rules = JSON.parse(preview.getAttribute("data-segment-rules"));
    function update() {
      var rendered = message.value.split("{code}").join("123456");
      var result = countSegments(rendered, rules);
      text.textContent = rendered;
      count.textContent = result.length + " characters (" + result.encoding + "), " +
        result.segments + (result.segments === 1 ? " SMS" : " SMS segments") +
        (result.segments > rules.max ? ": too long, at most " + rules.max + " are allowed" : "");
      count.classList.toggle("over-limit", result.segments > rules.max);
      preview.hidden = false;
    }
    message.addEventListener("input", update);
    update();
  }

  // Picking a template puts its text into the message: read-only unless admins let senders
  // edit it. Either way the server sends the chosen template's text, or a checked edit of it.
  function setupTemplatePicker() {
    var picker = document.querySelector("[data-template-picker]");
    if (!picker) { return; }
    var message = document.getElementById(picker.getAttribute("data-template-picker"));
    picker.addEventListener("change", function () {
      message.value = picker.options[picker.selectedIndex].getAttribute("data-text");
      message.dispatchEvent(new Event("input"));
    });
  }

  // The server shows times in the viewer's zone: tell it which one this browser is in.
  function reportTimeZone() {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    // Written as it is: a zone name (Region/City, Etc/GMT+8) holds only characters a cookie
    // may, and the server reads it as written (and a URL-encoded one, as before, too).
    if (zone && document.cookie.split("; ").indexOf("tz=" + zone) === -1) {
      var secure = window.location.protocol === "https:" ? "; Secure" : "";
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax" + secure;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    reportTimeZone();
    setupThemeToggle();
    setupSearchShortcut();
    setupTemplatePicker();
    setupSmsPreview();
  });
})();
