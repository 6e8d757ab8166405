// Chart cards (templates/_charts.html): each draws its chart with the vendored ECharts from the
// JSON its data endpoint serves (service_app/charts.py ChartTable.as_json), and switches between
// the chart and the same rows as a table. Without JavaScript the table shows; nothing is inline.
(function () {
  "use strict";
  if (!window.echarts || !window.fetch) { return; }

  var charts = [];

  function index(data, key) {
    for (var i = 0; i < data.columns.length; i++) {
      if (data.columns[i].key === key) { return i; }
    }
    return -1;
  }
  function values(data, key) {
    var i = index(data, key);
    return data.rows.map(function (row) { return row[i]; });
  }
  function label(data, key) { return data.columns[index(data, key)].label; }
  function categories(data) { return data.rows.map(function (row) { return row[0]; }); }
  function colours(data) { return (data.options && data.options.colors) || undefined; }
  function number(value) {
    if (value === null || value === undefined) { return "—"; }
    return Number(value).toLocaleString(document.documentElement.lang || undefined, { maximumFractionDigits: 2 });
  }
  // Tooltips are built as elements, names as text: ECharts' own tooltip markup carries style
  // attributes, which the Content-Security-Policy (style-src 'self') refuses; setting a property
  // of an element's style, as the dot's colour here, is allowed.
  function tipLine(colour, name, value) {
    var line = document.createElement("div");
    line.className = "chart-tip-line";
    var dot = document.createElement("span");
    dot.className = "chart-tip-dot";
    if (typeof colour === "string") { dot.style.backgroundColor = colour; }
    var label = document.createElement("span");
    label.textContent = name;
    var figure = document.createElement("span");
    figure.className = "chart-tip-value";
    figure.textContent = value;
    line.append(dot, label, figure);
    return line;
  }
  function tooltip(params) {
    var axis = Array.isArray(params);
    var items = axis ? params : [params];
    var tip = document.createElement("div");
    var title = axis && items.length ? items[0].axisValueLabel : "";
    if (title) {
      var head = document.createElement("div");
      head.className = "chart-tip-title";
      head.textContent = title;
      tip.appendChild(head);
    }
    items.forEach(function (item) {
      var name = axis ? item.seriesName : item.name;
      if (item.dataType === "edge") { name = item.data.source + " → " + item.data.target; }
      var value = number(item.value) + (item.percent !== undefined ? " (" + item.percent + "%)" : "");
      tip.appendChild(tipLine(item.color, name, value));
    });
    return tip;
  }
  // Kept inside the chart (`confine`): an item's tooltip would otherwise point at it with an arrow
  // ECharts writes as markup with a style attribute.
  var tooltipAxis = { trigger: "axis", axisPointer: { type: "shadow" }, formatter: tooltip, confine: true };
  var tooltipItem = { trigger: "item", formatter: tooltip, confine: true };
  var legend = { type: "scroll", top: 0 };
  var grid = { left: 8, right: 16, top: 36, bottom: 8, containLabel: true };

  function pie(data) {
    var key = data.series[0];
    var i = index(data, key);
    return {
      color: colours(data),
      tooltip: tooltipItem,
      series: [{
        type: "pie",
        radius: ["38%", "68%"],
        center: ["50%", "50%"],
        avoidLabelOverlap: true,
        label: { formatter: "{b}\n{d}%" },
        data: data.rows.filter(function (row) { return row[i]; })
          .map(function (row) { return { name: row[0], value: row[i] }; }),
      }],
    };
  }

  function bars(data, stacked, horizontal) {
    var category = { type: "category", data: categories(data), axisLabel: { interval: 0, hideOverlap: true } };
    var value = { type: "value" };
    var status = data.options && data.options.status;
    var statusColours = data.options && data.options.status_colors;
    return {
      color: colours(data),
      tooltip: tooltipAxis,
      legend: legend,
      grid: grid,
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? Object.assign({ inverse: true }, category) : value,
      series: data.series.map(function (key, n) {
        var points = values(data, key);
        if (status && n === data.series.length - 1) {  // the actuals, coloured by their status
          points = points.map(function (v, row) {
            return { value: v, itemStyle: { color: statusColours[status[row]] } };
          });
        }
        return { name: label(data, key), type: "bar", stack: stacked ? "total" : undefined, data: points };
      }),
    };
  }

  function line(data) {
    var options = data.options || {};
    var asBars = options.bars || [];
    var right = options.right_axis || [];
    var yAxis = [{ type: "value" }];
    if (right.length) { yAxis.push({ type: "value", splitLine: { show: false } }); }
    return {
      color: colours(data),
      tooltip: tooltipAxis,
      legend: legend,
      grid: grid,
      xAxis: { type: "category", data: categories(data) },
      yAxis: yAxis,
      series: data.series.map(function (key) {
        return {
          name: label(data, key),
          type: asBars.indexOf(key) >= 0 ? "bar" : "line",
          yAxisIndex: right.indexOf(key) >= 0 ? 1 : 0,
          connectNulls: false,
          data: values(data, key),
        };
      }),
    };
  }

  // A transition matrix (rows: from, series columns: to) as flows between two columns of nodes.
  function sankey(data) {
    var options = data.options || {};
    var palette = colours(data) || [];
    var sources = data.rows.map(function (row) { return row[0] + " · " + options.from; });
    var targets = data.series.map(function (key) { return label(data, key) + " · " + options.to; });
    var links = [];
    var used = {};
    data.rows.forEach(function (row, r) {
      data.series.forEach(function (key) {
        var value = row[index(data, key)];
        var t = data.series.indexOf(key);
        if (value) {
          links.push({ source: sources[r], target: targets[t], value: value });
          used[sources[r]] = palette[r];
          used[targets[t]] = palette[t];
        }
      });
    });
    var nodes = Object.keys(used).map(function (name) { return { name: name, itemStyle: { color: used[name] } }; });
    return {
      tooltip: tooltipItem,
      series: [{
        type: "sankey",
        left: 8, right: 120, top: 8, bottom: 8,
        nodeAlign: "justify",
        emphasis: { focus: "adjacency" },
        lineStyle: { color: "gradient", opacity: 0.35 },
        data: nodes,
        links: links,
      }],
    };
  }

  var builders = {
    pie: pie,
    bar: function (data) { return bars(data, false, false); },
    stack: function (data) { return bars(data, true, false); },
    hbar: function (data) { return bars(data, false, true); },
    line: line,
    sankey: sankey,
  };

  function show(card, view) {
    var box = card.querySelector(".chart-box");
    var table = card.querySelector(".chart-table-view");
    box.classList.toggle("d-none", view !== "chart");
    table.classList.toggle("d-none", view !== "table");
    card.querySelectorAll(".chart-toggle [data-show]").forEach(function (button) {
      var on = button.getAttribute("data-show") === view;
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
    if (view === "chart" && box.chart) { box.chart.resize(); }
  }

  function fallBack(card) {  // no chart after all: the table stays, the toggle goes
    show(card, "table");
    var box = card.querySelector(".chart-box");
    box.classList.add("d-none");
    var toggle = card.querySelector(".chart-toggle");
    if (toggle) { toggle.classList.add("d-none"); }
    card.querySelector(".chart-table-view").classList.remove("d-none");
  }

  document.querySelectorAll(".chart-card").forEach(function (card) {
    var box = card.querySelector(".chart-box[data-chart-src]");
    if (!box) { return; }
    var side = card.hasAttribute("data-side");
    box.style.height = (parseInt(box.getAttribute("data-height"), 10) || 300) + "px";
    box.classList.remove("d-none");
    if (!side) {
      card.querySelector(".chart-table-view").classList.add("d-none");
      card.querySelector(".chart-toggle").classList.remove("d-none");
      card.querySelectorAll(".chart-toggle [data-show]").forEach(function (button) {
        button.addEventListener("click", function () { show(card, button.getAttribute("data-show")); });
      });
    }
    fetch(box.getAttribute("data-chart-src"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        var build = builders[data.kind];
        if (!build || !data.rows.length) { throw new Error("nothing to draw"); }
        var chart = window.echarts.init(box);
        var option = build(data);
        option.animationDuration = 300;
        chart.setOption(option);
        box.chart = chart;
        box.setAttribute("data-drawn", data.kind);
        charts.push(chart);
      })
      .catch(function () { fallBack(card); });
  });

  var pending = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(pending);
    pending = window.setTimeout(function () { charts.forEach(function (chart) { chart.resize(); }); }, 150);
  });
})();
