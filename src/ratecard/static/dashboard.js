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
        loadWebhooks();
        loadBooks();
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
    loadWebhooks();
    loadBooks();
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


  // --- webhooks page: subscriptions through /admin/webhooks with the bearer token ------------
  // The page is a public shell; everything private is fetched here with the token and written
  // with textContent (never innerHTML), so a subscriber's URL cannot inject markup.

  function adminJson(method, url, body) {
    var headers = authHeaders();
    var init = { method: method, headers: headers, cache: "no-store", credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          if (response.status === 401) { forgetToken(); }
          throw new Error(data.detail || ("HTTP " + response.status));
        }
        return data;
      });
    });
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (className) { td.className = className; }
    row.appendChild(td);
    return td;
  }

  function actionButton(label, action, id, extra) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.setAttribute("data-webhook-action", action);
    button.setAttribute("data-webhook-id", id);
    if (extra) { button.setAttribute("data-delivery-id", extra); }
    return button;
  }

  function describeFilter(filter) {
    var parts = [];
    ["models", "providers", "sources", "kinds"].forEach(function (name) {
      if (filter && filter[name] && filter[name].length) {
        parts.push(name + ": " + filter[name].join(", "));
      }
    });
    return parts.length ? parts.join("; ") : "every change";
  }

  function showWebhookAccess(on) {
    var needed = byId("webhooks-token-needed");
    var admin = byId("webhooks-admin");
    if (needed) { needed.hidden = on; }
    if (admin) { admin.hidden = !on; }
    if (!on) {
      var rows = byId("webhook-rows");
      if (rows) { rows.replaceChildren(); }
      var deliveries = byId("webhook-deliveries");
      if (deliveries) { deliveries.hidden = true; }
      var secret = byId("webhook-secret");
      if (secret) { secret.hidden = true; byId("webhook-secret-value").textContent = ""; }
    }
  }

  function loadWebhooks() {
    if (!byId("webhooks-page")) { return Promise.resolve(); }
    if (!getToken()) { showWebhookAccess(false); return Promise.resolve(); }
    showWebhookAccess(true);
    return adminJson("GET", "/admin/webhooks").then(function (data) {
      var body = byId("webhook-rows");
      var rows = [];
      (data.items || []).forEach(function (item) {
        var counts = item.deliveries || {};
        var tr = document.createElement("tr");
        tr.setAttribute("data-webhook-id", item.id);
        cell(tr, item.url, "webhook-url");
        cell(tr, describeFilter(item.filter));
        cell(tr, item.paused ? "paused" : "active", "webhook-state");
        cell(tr, counts.pending || 0, "num count-pending");
        cell(tr, counts.failing || 0, "num count-failing");
        cell(tr, counts.dead || 0, "num count-dead");
        cell(tr, counts.delivered || 0, "num count-delivered");
        var actions = cell(tr, "", "actions");
        actions.appendChild(actionButton(item.paused ? "Resume" : "Pause",
          item.paused ? "resume" : "pause", item.id));
        actions.appendChild(actionButton("Rotate secret", "rotate", item.id));
        actions.appendChild(actionButton("Deliveries", "deliveries", item.id));
        actions.appendChild(actionButton("Delete", "delete", item.id));
        rows.push(tr);
      });
      if (!rows.length) {
        var empty = document.createElement("tr");
        var td = cell(empty, "No subscriptions yet.", "muted");
        td.colSpan = 8;
        rows.push(empty);
      }
      body.replaceChildren.apply(body, rows);
    }).catch(function (err) { say("Could not load the subscriptions: " + err.message, true); });
  }

  function showSecret(id, secret) {
    byId("webhook-secret-id").textContent = id;
    byId("webhook-secret-value").textContent = secret;
    byId("webhook-secret").hidden = false;
  }

  function loadDeliveries(id) {
    return adminJson("GET", "/admin/webhooks/" + encodeURIComponent(id) + "/deliveries?limit=20")
      .then(function (data) {
        byId("deliveries-for").textContent = id;
        var rows = (data.items || []).map(function (item) {
          var tr = document.createElement("tr");
          tr.setAttribute("data-delivery-id", item.id);
          cell(tr, item.id);
          cell(tr, item.status, "delivery-status");
          cell(tr, item.run_id);
          cell(tr, item.changes, "num");
          cell(tr, item.attempts, "num");
          cell(tr, item.last_attempt_at || "—");
          cell(tr, item.last_error || (item.last_status_code ? "HTTP " + item.last_status_code : "—"));
          var actions = cell(tr, "", "actions");
          if (item.status === "dead") {
            actions.appendChild(actionButton("Redeliver", "redeliver", id, item.id));
          }
          return tr;
        });
        if (!rows.length) {
          var empty = document.createElement("tr");
          cell(empty, "No messages yet (a subscription hears only changes after it was created).", "muted").colSpan = 8;
          rows.push(empty);
        }
        var body = byId("delivery-rows");
        body.replaceChildren.apply(body, rows);
        byId("webhook-deliveries").hidden = false;
      });
  }

  function splitList(value) {
    return value.split(",").map(function (v) { return v.trim(); }).filter(function (v) { return v; });
  }

  function createWebhook(event) {
    event.preventDefault();
    var form = byId("webhook-form");
    var filter = {};
    ["models", "providers", "sources", "kinds"].forEach(function (name) {
      var values = splitList(form.elements.namedItem(name).value);
      if (values.length) { filter[name] = values; }
    });
    var url = form.elements.namedItem("url").value.trim();
    adminJson("POST", "/admin/webhooks", { url: url, filter: filter }).then(function (created) {
      form.reset();
      showSecret(created.id, created.secret);
      say("Subscription " + created.id + " created.");
      return loadWebhooks();
    }).catch(function (err) { say("Could not create the subscription: " + err.message, true); });
  }

  function runWebhookAction(button) {
    var action = button.getAttribute("data-webhook-action");
    var id = button.getAttribute("data-webhook-id");
    var base = "/admin/webhooks/" + encodeURIComponent(id);
    var work;
    if (action === "deliveries") {
      work = loadDeliveries(id);
    } else if (action === "pause" || action === "resume") {
      work = adminJson("POST", base + "/" + action).then(function () {
        say("Subscription " + id + (action === "pause" ? " paused." : " resumed."));
      });
    } else if (action === "rotate") {
      work = adminJson("POST", base + "/rotate-secret").then(function (rotated) {
        showSecret(rotated.id, rotated.secret);
        say("Secret of " + id + " rotated; the old one also signs until " +
          rotated.previous_secret_valid_until + ".");
      });
    } else if (action === "delete") {
      if (!window.confirm("Delete subscription " + id + " and its undelivered messages?")) { return; }
      work = adminJson("DELETE", base).then(function () {
        say("Subscription " + id + " deleted.");
        byId("webhook-deliveries").hidden = true;
      });
    } else if (action === "redeliver") {
      var delivery = button.getAttribute("data-delivery-id");
      work = adminJson("POST", base + "/deliveries/" + encodeURIComponent(delivery) + "/redeliver")
        .then(function () {
          say("Message " + delivery + " queued for redelivery.");
          return loadDeliveries(id);
        });
    } else {
      return;
    }
    button.disabled = true;
    work.catch(function (err) { say(err.message, true); }).then(function () {
      button.disabled = false;
      return loadWebhooks();
    });
  }

  function wireWebhooks() {
    if (!byId("webhooks-page")) { return; }
    byId("webhook-form").addEventListener("submit", createWebhook);
    document.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button[data-webhook-action]") : null;
      if (button) { runWebhookAction(button); }
    });
    loadWebhooks();
  }

  // --- price books page: books, rules, list and book prices, with the bearer token ----------
  // A public shell like the webhooks page: a book's terms are fetched with the token and
  // written with textContent.

  var COMPARED = [
    ["input", "input_tokens"], ["output", "output_tokens"],
    ["cache_read", "cache_read_tokens"], ["cache_write", "cache_write_tokens"]
  ];

  function showBookAccess(on) {
    var needed = byId("price-books-token-needed");
    var admin = byId("price-books-admin");
    if (needed) { needed.hidden = on; }
    if (admin) { admin.hidden = !on; }
    if (!on) {
      var rows = byId("price-book-rows");
      if (rows) { rows.replaceChildren(); }
      var rules = byId("price-book-rules");
      if (rules) { rules.hidden = true; }
    }
  }

  function loadBooks() {
    if (!byId("price-books-page")) { return Promise.resolve(); }
    if (!getToken()) { showBookAccess(false); return Promise.resolve(); }
    showBookAccess(true);
    return adminJson("GET", "/admin/price-books").then(function (data) {
      var rows = (data.items || []).map(function (book) {
        var tr = document.createElement("tr");
        tr.setAttribute("data-book", book.name);
        cell(tr, book.name, "book-name");
        cell(tr, book.version, "num");
        cell(tr, book.description || "—");
        cell(tr, book.base || "—");
        cell(tr, book.unmatched);
        cell(tr, book.public ? "public" : "private (token or read key)");
        cell(tr, book.rules, "num");
        var open = document.createElement("button");
        open.type = "button";
        open.textContent = "Rules";
        open.setAttribute("data-book-open", book.name);
        cell(tr, "", "actions").appendChild(open);
        return tr;
      });
      if (!rows.length) {
        var empty = document.createElement("tr");
        cell(empty, "No price books yet (PUT /admin/price-books/<name>).", "muted").colSpan = 8;
        rows.push(empty);
      }
      var body = byId("price-book-rows");
      body.replaceChildren.apply(body, rows);
    }).catch(function (err) { say("Could not load the price books: " + err.message, true); });
  }

  function describeMatch(match) {
    var parts = [];
    ["model", "provider", "pattern"].forEach(function (key) {
      if (match && match[key]) { parts.push(key + " " + match[key]); }
    });
    return parts.length ? parts.join(", ") : "every model";
  }

  function describeAction(rule) {
    if (rule.set) {
      return "set " + Object.keys(rule.set).map(function (k) { return k + " = " + rule.set[k]; }).join(", ");
    }
    return "× " + rule.multiply + (rule.prices ? " (" + rule.prices.join(", ") + ")" : " (every price)");
  }

  function openBook(name) {
    return adminJson("GET", "/admin/price-books/" + encodeURIComponent(name)).then(function (book) {
      byId("rules-for").textContent = book.name + " v" + book.version;
      byId("book-compare").setAttribute("data-book", book.name);
      var rows = book.rules.map(function (rule, index) {
        var tr = document.createElement("tr");
        cell(tr, index, "num");
        cell(tr, describeMatch(rule.match));
        cell(tr, describeAction(rule), "rule-action");
        cell(tr, (rule.from ? "from " + rule.from : "") + (rule.until ? " until " + rule.until : "") || "always");
        return tr;
      });
      var body = byId("rule-rows");
      body.replaceChildren.apply(body, rows);
      byId("compare-table").hidden = true;
      byId("price-book-rules").hidden = false;
    });
  }

  // A per-token decimal text as per million tokens, exactly: the point moved six places in
  // the text itself (a float would print 2.4999999999999996 for 0.0000025).
  function perMillion(price) {
    var parts = String(price).split(".");
    var fraction = (parts[1] || "") + "000000";
    var whole = (parts[0] + fraction.slice(0, 6)).replace(/^0+(?=\d)/, "");
    var rest = fraction.slice(6).replace(/0+$/, "");
    return rest ? whole + "." + rest : whole;
  }

  function comparePrices(event) {
    event.preventDefault();
    var form = byId("book-compare");
    var book = form.getAttribute("data-book");
    var model = form.elements.namedItem("model").value.trim();
    adminJson("GET", "/api/models/" + encodeURIComponent(model)).then(function (read) {
      var asked = COMPARED.filter(function (pair) { return read.prices && read.prices[pair[0]]; });
      return Promise.all(asked.map(function (pair) {
        var body = { model: read.id, source: read.source, price_book: book };
        body[pair[1]] = 1000000;
        return adminJson("POST", "/api/cost", body).then(function (answer) {
          return [pair[0], answer.components[0]];
        });
      }));
    }).then(function (results) {
      var rows = results.map(function (result) {
        var component = result[1];
        var tr = document.createElement("tr");
        tr.setAttribute("data-price", result[0]);
        cell(tr, result[0].replace("_", " "));
        // Exact: the answer's cost of a million tokens is the price per million.
        cell(tr, component.list_price === null ? "—" : perMillion(component.list_price), "num list-price");
        cell(tr, component.cost, "num book-price");
        var rule = component.rule;
        cell(tr, rule ? rule.book + " v" + rule.version + " #" + rule.rule : "list price", "applied-rule");
        return tr;
      });
      var body = byId("compare-rows");
      body.replaceChildren.apply(body, rows);
      byId("compare-table").hidden = false;
    }).catch(function (err) { say("Could not price " + model + ": " + err.message, true); });
  }

  function wirePriceBooks() {
    if (!byId("price-books-page")) { return; }
    byId("book-compare").addEventListener("submit", comparePrices);
    document.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button[data-book-open]") : null;
      if (button) {
        openBook(button.getAttribute("data-book-open")).catch(function (err) { say(err.message, true); });
      }
    });
    loadBooks();
  }

  document.addEventListener("DOMContentLoaded", function () {
    wireAdmin();
    wireCatalog();
    wireWebhooks();
    wirePriceBooks();
    schedulePoll();
  });
})();
