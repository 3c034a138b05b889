// Page behaviour: the "/" shortcut to the history search, the live preview of the SMS with its
// length and segment count on the send form, and what any page may ask for by attribute:
// - data-submitting="Sending…" on a submit button: that label, and the button disabled, while the
//   form's request runs (so a slow send is not sent twice);
// - data-error-summary: the error summary takes focus when the page opens, and its links move
//   focus to their fields;
// - data-relative on a <time> (templating.when): its sibling [data-relative-text] kept current;
//   data-countdown on a <time>: the same, counting down to "now".
// The light/dark theme is static/js/theme.js's.
(function () {
  "use strict";

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

  // After the submit event, not in it: the browser reads the form's data (the button's own
  // name and value among it) once the event is over, and a disabled button would be left out.
  // A submission that a handler cancelled keeps its button as it was.
  function setupSubmittingButtons() {
    document.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button || !button.hasAttribute("data-submitting")) { return; }
      window.setTimeout(function () {
        if (event.defaultPrevented) { return; }
        var input = button.tagName === "INPUT";
        button.setAttribute("data-idle-label", input ? button.value : button.textContent);
        if (input) { button.value = button.getAttribute("data-submitting"); }
        else { button.textContent = button.getAttribute("data-submitting"); }
        button.disabled = true;
        button.setAttribute("aria-disabled", "true");
      }, 0);
    });
    // Back to a page kept in the browser's cache: its buttons work again.
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted) { return; }
      document.querySelectorAll("[data-submitting][data-idle-label]").forEach(function (button) {
        var label = button.getAttribute("data-idle-label");
        if (button.tagName === "INPUT") { button.value = label; } else { button.textContent = label; }
        button.removeAttribute("data-idle-label");
        button.removeAttribute("aria-disabled");
        button.disabled = false;
      });
    });
  }

  // A page that came back with errors opens on their summary (an autofocused field would
  // otherwise take the focus: once something has it, the browser autofocuses nothing).
  function setupErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) { return; }
    document.querySelectorAll("[autofocus]").forEach(function (element) {
      element.removeAttribute("autofocus");
    });
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      if (!link) { return; }
      var target = document.getElementById(decodeURIComponent(link.getAttribute("href").slice(1)));
      if (!target) { return; }
      // A group of choices (radio buttons) names its list: focus its first choice.
      var field = target.matches("input, select, textarea, button") ? target
        : target.querySelector("input, select, textarea, button");
      if (!field) { return; }
      event.preventDefault();
      var label = document.querySelector("label[for='" + field.id + "']");
      field.focus({ preventScroll: true });
      (label || field).scrollIntoView({ block: "center" });
    });
  }

  // Python's round(): halves to the even neighbour, so the page says what the server said.
  function roundHalfEven(value) {
    var floor = Math.floor(value);
    var rest = value - floor;
    if (Math.abs(rest - 0.5) < 1e-9) { return floor % 2 === 0 ? floor : floor + 1; }
    return Math.round(value);
  }

  // The same steps as templating.relative_to.
  function relativeTo(moment, now) {
    var seconds = roundHalfEven((moment - now) / 1000);
    if (Math.abs(seconds) < 5) { return "just now"; }
    var size = Math.abs(seconds);
    var amount;
    if (size < 90) { amount = size + " s"; }
    else if (size < 90 * 60) { amount = roundHalfEven(size / 60) + " min"; }
    else if (size < 48 * 3600) { amount = roundHalfEven(size / 3600) + " h"; }
    else { amount = roundHalfEven(size / 86400) + " days"; }
    return seconds > 0 ? "in " + amount : amount + " ago";
  }

  function relativeTextOf(time) {
    var next = time.nextElementSibling;
    return next && next.hasAttribute("data-relative-text") ? next : null;
  }

  // Every second while any time is within 90 s of now (its words change each second), every
  // 15 s otherwise (minutes at most change). The times are looked up at each turn, so a part
  // of the page drawn later is kept current too.
  function setupRelativeTimes() {
    function update() {
      var now = Date.now();
      var soon = false;
      document.querySelectorAll("time[data-relative], time[data-countdown]").forEach(function (time) {
        var moment = Date.parse(time.getAttribute("datetime"));
        if (isNaN(moment)) { return; }
        var countdown = time.hasAttribute("data-countdown");
        var target = relativeTextOf(time) || (countdown ? time : null);
        if (!target) { return; }
        var words = countdown && moment - now < 500 ? "now" : relativeTo(moment, now);
        if (countdown && words === "now") { time.setAttribute("data-countdown-done", ""); }
        var wrapped = /^\(.*\)$/.test(target.textContent.trim());
        var text = wrapped ? "(" + words + ")" : words;
        if (target.textContent !== text) { target.textContent = text; }
        if (Math.abs(moment - now) < 90 * 1000) { soon = true; }
      });
      window.setTimeout(update, soon ? 1000 - (Date.now() % 1000) : 15000);
    }
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    reportTimeZone();
    setupErrorSummary();
    setupSubmittingButtons();
    setupRelativeTimes();
    setupSearchShortcut();
    setupTemplatePicker();
    setupSmsPreview();
  });
})();
