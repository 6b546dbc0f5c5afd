// crossmatch: puts the session's CSRF token (cookie crossmatch_csrf, set by api/security.py) on every
// same-origin write: a hidden "csrf" field on POST forms, an X-CSRF-Token header on fetch().
(function () {
  "use strict";
  function token() {
    var m = document.cookie.match(/(?:^|;\s*)crossmatch_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  var plainFetch = window.fetch && window.fetch.bind(window);
  if (plainFetch) {
    window.fetch = function (input, init) {
      init = init || {};
      var method = (init.method || (input && input.method) || "GET").toUpperCase();
      var url = new URL(typeof input === "string" ? input : input.url, window.location.href);
      if (method !== "GET" && method !== "HEAD" && url.origin === window.location.origin && token()) {
        var headers = new Headers(init.headers || (typeof input === "string" ? undefined : input.headers));
        headers.set("X-CSRF-Token", token());
        init.headers = headers;
      }
      return plainFetch(input, init);
    };
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || (form.method || "").toLowerCase() !== "post" || form.querySelector('input[name="csrf"]') || !token()) return;
    var field = document.createElement("input");
    field.type = "hidden"; field.name = "csrf"; field.value = token();
    form.appendChild(field);
  }, true);
})();
