// Passkeys (WebAuthn) in the page: adding one (a form with [data-passkey-add]) and using one
// (a block with [data-passkey-use] and its purpose: sign_in, second_step or confirm). The
// server sends the options as JSON (binary values in base64url), the browser's authenticator
// answers, and the answer goes back as JSON with the page's CSRF token; the server answers
// {"redirect": url} or {"message": text}, shown in the block's [data-passkey-message], which
// is an alert only while it holds a message (an empty alert would be announced, and found).
// Loaded once per page however many blocks include it (the guard below).
(function () {
  "use strict";
  if (window.rmPasskeys) { return; }
  window.rmPasskeys = true;

  var NO_WEBAUTHN = "This browser cannot use passkeys. Use an up-to-date browser, or sign in another way.";
  var CANCELLED = "The passkey was not used: it was cancelled or took too long. Try again when you are ready.";
  var NOT_REGISTERED = "This device has no passkey for this site.";
  var ALREADY = "This device already has a passkey for your account.";
  var FAILED = "Something went wrong. Reload the page and try again.";

  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = window.atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    json.challenge = toBuffer(json.challenge);
    json.user.id = toBuffer(json.user.id);
    (json.excludeCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return json;
  }

  function requestOptions(json) {
    json.challenge = toBuffer(json.challenge);
    (json.allowCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return json;
  }

  function credentialJSON(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      if (response.userHandle) { out.response.userHandle = toText(response.userHandle); }
    }
    return out;
  }

  // A POST of JSON; what the server said: {redirect}, {message}, or {options}. A redirect of
  // the request itself (a fresh sign-in is needed first) takes the page there.
  function post(url, token, body) {
    return window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body)
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (response.redirected && type.indexOf("application/json") === -1) {
        return { redirect: response.url };
      }
      if (type.indexOf("application/json") === -1) {
        return { message: response.status === 429 ? "Too many attempts from your network. Wait a minute, then try again." : FAILED };
      }
      return response.json().then(function (json) {
        return response.ok && !json.message && !json.redirect ? { options: json } : json;
      });
    });
  }

  function whyItFailed(error) {
    if (error && error.name === "NotAllowedError") { return CANCELLED; }
    if (error && error.name === "AbortError") { return CANCELLED; }
    if (error && error.name === "InvalidStateError") { return ALREADY; }
    if (error && error.name === "SecurityError") { return "Passkeys do not work at this address. Open the dashboard by its name."; }
    return FAILED;
  }

  function say(message, text) {
    if (text) { message.setAttribute("role", "alert"); } else { message.removeAttribute("role"); }
    message.textContent = text;
  }

  function run(block, button, start, finish, message) {
    var token = block.getAttribute("data-csrf-token");
    say(message, "");
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say(message, NO_WEBAUTHN);
      return;
    }
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    function done(text) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      say(message, text);
    }
    post(block.getAttribute("data-options-url"), token, start())
      .then(function (answer) {
        if (answer.redirect) { window.location.assign(answer.redirect); return null; }
        if (answer.message) { done(answer.message); return null; }
        return finish(answer.options).then(function (credential) {
          if (!credential) { done(NOT_REGISTERED); return null; }
          return post(block.getAttribute("data-result-url"), token, {
            credential: credentialJSON(credential),
            next: block.getAttribute("data-next") || ""
          }).then(function (result) {
            if (result.redirect) { window.location.assign(result.redirect); }
            else { done(result.message || FAILED); }
          });
        }, function (error) { done(whyItFailed(error)); });
      })
      .catch(function () { done(FAILED); });
  }

  function setupAdding(form) {
    var button = form.querySelector("button[type=submit]");
    var message = form.querySelector("[data-passkey-message]");
    var name = form.querySelector("input[name=name]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      run(form, button,
        function () { return { name: name.value }; },
        function (options) { return navigator.credentials.create({ publicKey: creationOptions(options) }); },
        message);
    });
  }

  function setupUsing(block) {
    var button = block.querySelector("button");
    var message = block.querySelector("[data-passkey-message]");
    var purpose = block.getAttribute("data-purpose");
    button.addEventListener("click", function () {
      run(block, button,
        function () { return { purpose: purpose }; },
        function (options) { return navigator.credentials.get({ publicKey: requestOptions(options) }); },
        message);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-passkey-add]").forEach(setupAdding);
    document.querySelectorAll("[data-passkey-use]").forEach(setupUsing);
  });
})();
