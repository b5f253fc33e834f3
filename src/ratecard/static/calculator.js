// ratecard model page: the cost calculator. Posts what the user pasted to POST /api/cost as
// this page's model and shows the breakdown. No inline script (the CSP forbids it).
(function () {
  "use strict";

  // Keys only a whole response has: its usage block is inside it.
  var RESPONSE_KEYS = ["choices", "output", "content", "candidates", "usageMetadata", "usage",
    "usage_info", "stopReason"];

  function isResponse(obj) {
    // A usage block never nests `usage`; Gemini's usageMetadata sits in the response.
    return RESPONSE_KEYS.some(function (k) { return Object.prototype.hasOwnProperty.call(obj, k); });
  }

  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    row.appendChild(td);
  }

  function show(box, answer, ok) {
    box.textContent = "";
    if (!ok) {
      var p = document.createElement("p");
      p.className = "banner banner-warn cost-error";
      p.textContent = (answer.detail || answer.message || answer.error || "error") +
        (answer.field ? " (field: " + answer.field + ")" : "");
      box.appendChild(p);
      return;
    }
    var total = document.createElement("p");
    total.className = "cost-total";
    total.textContent = "Total: " + answer.total + " " + answer.currency + " — " +
      answer.model + " (" + answer.source + "), " + answer.service_tier +
      (answer.tier_above_tokens != null ? ", tier above " + answer.tier_above_tokens + " tokens" : "") +
      (answer.window ? ", window " + answer.window + " UTC" : "");
    box.appendChild(total);
    // What reading and pricing assumed (a stated total that is not its parts' sum, ...).
    if (answer.notes && answer.notes.length) {
      var notes = document.createElement("ul");
      notes.className = "cost-notes";
      answer.notes.forEach(function (note) {
        var li = document.createElement("li");
        li.textContent = note;
        notes.appendChild(li);
      });
      box.appendChild(notes);
    }
    var table = document.createElement("table");
    table.className = "data cost-components";
    var head = table.createTHead().insertRow();
    ["Component", "Quantity", "Unit", "Price (USD)", "Cost (USD)", "Price used"].forEach(function (h) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      head.appendChild(th);
    });
    var body = table.createTBody();
    (answer.components || []).forEach(function (c) {
      var row = body.insertRow();
      cell(row, c.name);
      cell(row, String(c.quantity), "num");
      cell(row, c.unit);
      cell(row, c.price, "num");
      cell(row, c.cost, "num");
      cell(row, c.price_name);
    });
    box.appendChild(table);
  }

  function submit(event) {
    event.preventDefault();
    var form = event.target;
    var box = document.getElementById("cost-result");
    var pasted;
    try {
      pasted = JSON.parse(form.elements.body.value);
    } catch (e) {
      show(box, { message: "not JSON: " + e.message, field: "body" }, false);
      return;
    }
    if (pasted === null || typeof pasted !== "object" || Array.isArray(pasted)) {
      show(box, { message: "paste a JSON object (a response or a usage block)", field: "body" }, false);
      return;
    }
    var request = { model: form.dataset.model, source: form.elements.source.value };
    if (isResponse(pasted)) { request.response = pasted; } else { request.usage = pasted; }
    if (form.elements.service_tier.value) { request.service_tier = form.elements.service_tier.value; }
    if (form.elements.at.value.trim()) { request.at = form.elements.at.value.trim(); }
    fetch(form.dataset.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(request)
    }).then(function (response) {
      return response.json().then(function (answer) { show(box, answer, response.ok); });
    }).catch(function (e) {
      show(box, { message: "request failed: " + e.message }, false);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("cost-form");
    if (form) { form.addEventListener("submit", submit); }
  });
})();
