/* The dashboard's charts (ECharts, served by the console): each `.chart[data-table]` draws the
   numbers of the table it names — the table is what a screen reader reads and what shows
   without script. Bars by default, lines with data-kind="line" (one series per column).
   No inline script anywhere (Content-Security-Policy). */
(function () {
  "use strict";
  var COLOURS = ["#0b4f8a", "#b3541e", "#2e7d32", "#6a1b9a", "#8d6e00", "#c62828"];
  function number(text) {
    var value = Number(text.trim());
    return isNaN(value) ? 0 : value; /* "<5": a suppressed count */
  }
  function drawOne(box) {
    var table = document.getElementById(box.getAttribute("data-table"));
    if (!table) { return; }
    var names = [];
    table.querySelectorAll("thead th").forEach(function (th, i) {
      if (i > 0) { names.push(th.textContent.trim()); }
    });
    var categories = [];
    var series = names.map(function () { return []; });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      categories.push(row.querySelector("th").textContent.trim());
      row.querySelectorAll("td").forEach(function (td, i) { series[i].push(number(td.textContent)); });
    });
    var line = box.getAttribute("data-kind") === "line";
    var chart = echarts.init(box, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      aria: { enabled: false },
      color: COLOURS,
      textStyle: { fontFamily: "Noto Sans CJK SC, Microsoft YaHei, sans-serif", color: "#1b1b1b" },
      grid: { left: 48, right: 16, top: line ? 40 : 24, bottom: 32 },
      legend: line ? { top: 0, textStyle: { color: "#1b1b1b" } } : undefined,
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: categories, axisLabel: { color: "#1b1b1b" } },
      yAxis: { type: "value", minInterval: 1, axisLabel: { color: "#1b1b1b" } },
      series: series.map(function (data, i) {
        return line
          ? { type: "line", name: names[i], data: data }
          : { type: "bar", name: names[i], data: data,
              label: { show: true, position: "top", color: "#1b1b1b" } };
      })
    });
    box.setAttribute("data-drawn", String(categories.length));
    window.addEventListener("resize", function () { chart.resize(); });
  }
  function draw() {
    if (typeof echarts === "undefined") { return; }
    document.querySelectorAll(".chart[data-table]").forEach(drawOne);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
