// ratecard dashboard: swaps in server-rendered fragments, sends admin actions with the token.
// No inline script anywhere (the CSP forbids it); everything is wired from here.
(function () {
  "use strict";

  // The admin token lives in sessionStorage (this tab only) and travels only in the
  // Authorization header: never a cookie, which a browser would attach to cross-site requests.
  var TOKEN_KEY = "ratecard.adminToken";

  function getToken() {
    try { return window.sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
  }
  function setToken(value) {
    try {
      if (value) { window.sessionStorage.setItem(TOKEN_KEY, value); }
      else { window.sessionStorage.removeItem(TOKEN_KEY); }
    } catch (e) { /* storage disabled: the token is simply not kept */ }
  }
  function authHeaders() {
    var token = getToken();
    return token ? { "Authorization": "Bearer " + token } : {};
  }

  function byId(id) { return document.getElementById(id); }

  function say(text, isError) {
    var box = byId("admin-message");
    if (!box) { return; }
    box.textContent = text;
    box.hidden = !text;
    box.classList.toggle("error", !!isError);
  }

  function markAdmin(on, label) {
    document.body.classList.toggle("admin", on);
    var state = byId("admin-state");
    if (state) { state.textContent = label || ""; }
  }

  // Replace each element of the fragment that has an id with the page's element of that id.
  function swapFragment(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var nodes = doc.body.children;
    for (var i = 0; i < nodes.length; i++) {
      var incoming = nodes[i];
      if (!incoming.id) { continue; }
      var current = byId(incoming.id);
      if (current) { current.replaceWith(document.importNode(incoming, true)); }
    }
  }

  function getText(url) {
    return fetch(url, { headers: authHeaders(), cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      });
  }

  // --- live sections: fleet, runs, held changes ---------------------------------------------

  var pollTimer = null;

  function pollLive() {
    var live = byId("live");
    if (!live) { return Promise.resolve(); }
    var src = live.getAttribute("data-src");
    return getText(src).then(function (html) {
      swapFragment(html);
    }).catch(function (err) {
      var state = byId("poll-state");
      if (state) {
        state.textContent = "update failed (" + err.message + "), retrying";
        state.classList.add("stale");
      }
    });
  }

  function schedulePoll() {
    var live = byId("live");
    if (!live) { return; }
    var seconds = parseFloat(live.getAttribute("data-poll")) || 3;
    window.clearTimeout(pollTimer);
    pollTimer = window.setTimeout(function () {
      var work = document.hidden ? Promise.resolve() : pollLive();
      work.then(schedulePoll);
    }, seconds * 1000);
  }

  // --- catalog: search, filters, sort without a reload ---------------------------------------

  var catalogRequest = 0;

  function catalogParams(sortOverride) {
    var form = byId("catalog-form");
    var params = new URLSearchParams();
    ["q", "provider", "mode", "sort"].forEach(function (name) {
      var field = form.elements.namedItem(name);
      var value = name === "sort" && sortOverride !== undefined ? sortOverride : (field ? field.value : "");
      if (value) { params.set(name, value); }
    });
    return params;
  }

  function loadCatalog(sortOverride) {
    var form = byId("catalog-form");
    if (!form) { return Promise.resolve(); }
    if (sortOverride !== undefined) { form.elements.namedItem("sort").value = sortOverride; }
    var params = catalogParams(sortOverride);
    var ticket = ++catalogRequest;
    var query = params.toString();
    return getText(form.getAttribute("data-src") + (query ? "?" + query : "")).then(function (html) {
      if (ticket !== catalogRequest) { return; } // a newer search is on its way
      swapFragment(html);
      window.history.replaceState(null, "", query ? "?" + query : window.location.pathname);
    }).catch(function (err) {
      say("Could not load the catalog: " + err.message, true);
    });
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(fn, ms);
    };
  }

  function wireCatalog() {
    var form = byId("catalog-form");
    if (!form) { return; }
    var search = debounce(function () { loadCatalog(); }, 200);
    form.addEventListener("submit", function (event) { event.preventDefault(); loadCatalog(); });
    form.addEventListener("input", function (event) {
      if (event.target && event.target.id === "catalog-q") { search(); }
    });
    form.addEventListener("change", function (event) {
      if (event.target && event.target.tagName === "SELECT") { loadCatalog(); }
    });
    document.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[data-sort]") : null;
      if (!link) { return; }
      event.preventDefault();
      loadCatalog(link.getAttribute("data-sort"));
    });
  }

  // --- admin: token and actions -------------------------------------------------------------

  function checkToken(token) {
    return fetch("/admin/worker", {
      headers: { "Authorization": "Bearer " + token }, cache: "no-store", credentials: "same-origin"
    }).then(function (response) { return response.status; });
  }

  function useToken() {
    var input = byId("admin-token");
    var token = input ? input.value.trim() : "";
    if (!token) { say("Paste the admin token first.", true); return; }
    checkToken(token).then(function (status) {
      if (status === 200) {
        setToken(token);
        if (input) { input.value = ""; }
        markAdmin(true, "admin");
        say("Admin token in use for this tab.");
        pollLive();
      } else if (status === 403) {
        say("Admin actions are disabled on this instance (no RATECARD_ADMIN_TOKEN).", true);
      } else if (status === 401) {
        say("That token was refused.", true);
      } else {
        say("Could not check the token (HTTP " + status + ").", true);
      }
    }).catch(function (err) { say("Could not check the token: " + err.message, true); });
  }

  function forgetToken() {
    setToken("");
    markAdmin(false, "");
    say("Admin token forgotten.");
    pollLive();
  }

  var ACTIONS = {
    refresh: function () { return "/admin/refresh"; },
    accept: function (button) { return "/admin/held/" + button.getAttribute("data-held-id") + "/accept"; },
    reject: function (button) { return "/admin/held/" + button.getAttribute("data-held-id") + "/reject"; }
  };

  function describe(action, status, body) {
    if (status === 202) { return "Refresh started on " + (body.instance_id || "this instance") + "."; }
    if (action === "accept") { return "Held change #" + body.id + " accepted: catalog version " + body.catalog_version + "."; }
    if (action === "reject") { return "Held change #" + body.id + " rejected."; }
    return "Done.";
  }

  function runAction(button) {
    var action = button.getAttribute("data-action");
    if (!ACTIONS[action]) { return; }
    if (!getToken()) { say("Enter the admin token first.", true); return; }
    button.disabled = true;
    fetch(ACTIONS[action](button), {
      method: "POST", headers: authHeaders(), cache: "no-store", credentials: "same-origin"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok) {
          say(describe(action, response.status, body));
        } else {
          if (response.status === 401) { forgetToken(); }
          say((body.detail || ("HTTP " + response.status)), true);
        }
      });
    }).catch(function (err) {
      say("Request failed: " + err.message, true);
    }).then(function () {
      button.disabled = false;
      if (byId("live")) {
        pollLive();
        loadCatalog();
      } else {
        window.location.reload();
      }
    });
  }

  function wireAdmin() {
    var use = byId("admin-token-use");
    var forget = byId("admin-token-forget");
    var input = byId("admin-token");
    if (use) { use.addEventListener("click", useToken); }
    if (forget) { forget.addEventListener("click", forgetToken); }
    if (input) {
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); useToken(); }
      });
    }
    document.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button[data-action]") : null;
      if (button) { runAction(button); }
    });
    if (getToken()) {
      markAdmin(true, "admin");
      pollLive(); // re-render with the admin view (hosts)
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    wireAdmin();
    wireCatalog();
    schedulePoll();
  });
})();
