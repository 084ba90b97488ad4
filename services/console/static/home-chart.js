/* The home page's chart of enrolled students per grade (ECharts, served by the console).
   It draws the numbers of the table below it: the table is what a screen reader reads and
   what shows without script; no inline script anywhere (Content-Security-Policy). */
(function () {
  "use strict";
  function draw() {
    var box = document.getElementById("enrolled-chart");
    var table = document.getElementById("enrolled-table");
    if (!box || !table || typeof echarts === "undefined") { return; }
    var grades = [];
    var counts = [];
    table.querySelectorAll("tbody tr").forEach(function (row) {
      grades.push(row.querySelector("th").textContent.trim());
      counts.push(Number(row.querySelector("td").textContent.trim()));
    });
    var chart = echarts.init(box, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      aria: { enabled: false },
      textStyle: { fontFamily: "Noto Sans CJK SC, Microsoft YaHei, sans-serif", color: "#1b1b1b" },
      grid: { left: 48, right: 16, top: 24, bottom: 32 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: grades, axisLabel: { color: "#1b1b1b" } },
      yAxis: { type: "value", minInterval: 1, axisLabel: { color: "#1b1b1b" } },
      series: [{ type: "bar", name: "在读人数", data: counts, itemStyle: { color: "#0b4f8a" },
                 label: { show: true, position: "top", color: "#1b1b1b" } }]
    });
    box.setAttribute("data-drawn", String(counts.length));
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
