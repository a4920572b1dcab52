(function () {
  "use strict";
  // Draws every chart, turns clicks on chart marks into a filter of the evidence tables, and links
  // evidence rows to the transcript viewer when the page is served by `cotwatch view`.
  // Builds no HTML from data: rows are shown or hidden, text goes in with textContent.
  var ROW_KEYS = ["run", "step", "environment", "term"];
  var lastChart = null;

  function fail(el, message) {
    if (el.getAttribute("data-rendered") === "error") return;
    el.setAttribute("data-rendered", "error");
    el.setAttribute("data-error", message);
    var p = document.createElement("p");
    p.className = "chart-error";
    p.textContent = "This chart could not be drawn: " + message;
    el.parentNode.insertBefore(p, el.nextSibling);
    console.error("cotwatch report: chart " + el.id + ": " + message);
  }

  // Vega reports dataflow errors to its logger instead of rejecting: without this a chart whose
  // data broke a transform would be left blank and look fine.
  function loggerFor(el) {
    var level = 0;
    return {
      level: function (l) { if (arguments.length) { level = l; return this; } return level; },
      error: function () { fail(el, Array.prototype.map.call(arguments, String).join(" ")); return this; },
      warn: function () { return this; },
      info: function () { return this; },
      debug: function () { return this; }
    };
  }

  // The bundle does not expose Vega's View class; one tiny chart drawn off-page hands it over.
  function viewClass() {
    return vegaEmbed(document.createElement("div"), {data: {values: []}, mark: "point"},
                     {actions: false, renderer: "svg", mode: "vega-lite"}).then(function (result) {
      var View = result.view.constructor;
      result.view.finalize();
      return View;
    });
  }

  function viewClassFor(View, el) {
    return class extends View {
      constructor(runtime, options) {
        super(runtime, options);
        this.logger(loggerFor(el));
      }
    };
  }

  // -- evidence ------------------------------------------------------------------------------
  var tables = Array.prototype.slice.call(document.querySelectorAll("table.evidence"));
  var status = document.getElementById("evidence-status");
  var showAll = document.getElementById("evidence-all");
  var back = document.getElementById("evidence-back");

  function rowsOf(table) { return Array.prototype.slice.call(table.tBodies[0].rows); }

  function setCount(table, shown) {
    var count = table.querySelector("span.count");
    if (count) count.textContent = shown + " of " + rowsOf(table).length + " rows shown";
  }

  // filter: {kinds: [..] or null, values: [[attribute, string value], ...]}
  function applyFilter(filter) {
    var total = 0;
    tables.forEach(function (table) {
      var kind = table.getAttribute("data-kind");
      var wanted = !filter.kinds || filter.kinds.indexOf(kind) !== -1;
      var shown = 0;
      rowsOf(table).forEach(function (tr) {
        var ok = wanted && filter.values.every(function (kv) { return tr.getAttribute("data-" + kv[0]) === kv[1]; });
        tr.hidden = !ok;
        if (ok) shown += 1;
      });
      table.hidden = !wanted;
      setCount(table, shown);
      total += shown;
    });
    return total;
  }

  function describe(values) {
    return values.map(function (kv) { return kv[0] + " " + kv[1]; }).join(", ");
  }

  function latestFilter() {
    // the latest step of each run: the default view, like a report without drill-down
    var latest = new Map();
    tables.forEach(function (table) {
      rowsOf(table).forEach(function (tr) {
        var run = tr.getAttribute("data-run"), step = Number(tr.getAttribute("data-step"));
        if (!latest.has(run) || step > latest.get(run)) latest.set(run, step);
      });
    });
    var shown = 0;
    tables.forEach(function (table) {
      var n = 0;
      rowsOf(table).forEach(function (tr) {
        var ok = Number(tr.getAttribute("data-step")) === latest.get(tr.getAttribute("data-run"));
        tr.hidden = !ok;
        if (ok) n += 1;
      });
      table.hidden = false;
      setCount(table, n);
      shown += n;
    });
    if (status) status.textContent = "Showing the latest checkpoint of each run (" + shown + " rows). Click a point, bar or cell in a chart to see its evidence.";
    if (showAll) showAll.hidden = false;
  }

  function showEverything() {
    var n = applyFilter({kinds: null, values: []});
    if (status) status.textContent = "Showing all " + n + " evidence rows.";
    if (showAll) showAll.hidden = true;
  }

  function onPick(el, drill, datum) {
    var values = [];
    Object.keys(drill.fields).forEach(function (key) {
      var field = drill.fields[key];
      if (!Object.prototype.hasOwnProperty.call(datum, field)) return;
      var value = datum[field];
      if (value === null || value === undefined) return;
      values.push([key, String(value)]);
    });
    var n = applyFilter({kinds: drill.kinds, values: values});
    var what = drill.kinds.map(function (k) { return k === "kwic" ? "KWIC lines" : "flagged sentences"; }).join(" and ");
    if (status) {
      status.textContent = n ? "Showing " + n + " " + what + " for " + describe(values) + "."
        : "No " + what + " embedded for " + describe(values) + " (see the notes above for what the evidence covers).";
    }
    if (showAll) showAll.hidden = false;
    lastChart = el;
    if (back) back.hidden = false;
    var section = document.getElementById("evidence");
    if (section) section.scrollIntoView({block: "start"});
  }

  if (showAll) showAll.addEventListener("click", function () { showEverything(); });
  if (back) back.addEventListener("click", function (event) {
    event.preventDefault();
    if (lastChart) lastChart.scrollIntoView({block: "center"});
  });
  if (tables.length) latestFilter();

  // -- charts --------------------------------------------------------------------------------
  function draw(View, el) {
    var spec, drill = null;
    try {
      spec = JSON.parse(document.getElementById(el.getAttribute("data-spec")).textContent);
      if (el.hasAttribute("data-drill")) drill = JSON.parse(el.getAttribute("data-drill"));
    } catch (err) {
      fail(el, String(err));
      return;
    }
    var opts = {actions: false, renderer: "svg", mode: "vega-lite", viewClass: viewClassFor(View, el)};
    vegaEmbed(el, spec, opts).then(function (result) {
      if (el.getAttribute("data-rendered") !== "error") el.setAttribute("data-rendered", "1");
      if (drill && tables.length) {
        result.view.addEventListener("click", function (event, item) {
          if (!item || !item.datum || !item.mark || (item.mark.marktype !== "symbol" && item.mark.marktype !== "rect")) return;
          onPick(el, drill, item.datum);
        });
      }
    }).catch(function (err) {
      fail(el, String(err));
    });
  }

  var charts = Array.prototype.slice.call(document.querySelectorAll("div.vega-chart"));
  if (charts.length) {
    viewClass().then(function (View) {
      charts.forEach(function (el) { draw(View, el); });
    }).catch(function (err) {
      charts.forEach(function (el) { fail(el, "the chart library did not start: " + String(err)); });
    });
  }

  // -- links to the transcript viewer ---------------------------------------------------------
  // Served over http(s) by `cotwatch view`, transcript ids become links to its transcript pages
  // (/transcript?run=…&id=…). Opened from file:// the page stays offline and links nowhere.
  if (location.protocol === "http:" || location.protocol === "https:") {
    document.querySelectorAll("tr[data-transcript-id][data-run]").forEach(function (tr) {
      var cell = tr.querySelector("td.tid");
      if (!cell) return;
      var a = document.createElement("a");
      a.href = "/transcript?" + new URLSearchParams({run: tr.getAttribute("data-run"), id: tr.getAttribute("data-transcript-id")}).toString();
      a.textContent = cell.textContent;
      cell.textContent = "";
      cell.appendChild(a);
    });
  }
})();
