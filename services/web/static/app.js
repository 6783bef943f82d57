// Progressive enhancement only: every page works without this file.
// Suggestions as the shopper types in the search box, from the public suggest API.
(function () {
  "use strict";
  var input = document.querySelector("input[data-suggest]");
  if (!input || !window.fetch) return;
  var list = document.getElementById(input.getAttribute("list"));
  var timer = null;
  var last = "";
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var q = input.value.trim();
    if (q.length < 2 || q === last) return;
    timer = setTimeout(function () {
      last = q;
      fetch("/api/v1/search/suggest?limit=8&q=" + encodeURIComponent(q), {
        headers: { Accept: "application/json" },
        credentials: "same-origin"
      })
        .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
        .then(function (body) {
          while (list.firstChild) list.removeChild(list.firstChild);
          (body.suggestions || []).forEach(function (s) {
            var o = document.createElement("option");
            o.value = s.text;
            list.appendChild(o);
          });
        })
        .catch(function () {});
    }, 150);
  });
})();
