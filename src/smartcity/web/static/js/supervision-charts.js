// Charts of the supervision page; the figures come from the JSON block #sv-trend.
(function () {
  if (!window.Plotly) { return; }
  var d = JSON.parse(document.getElementById("sv-trend").textContent);
  var font = { family: "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif", size: 13 };
  var layout = function (title, y2) {
    var l = { title: { text: title, font: { size: 15 } }, font: font, margin: { l: 48, r: 48, t: 40, b: 40 },
      height: 300, legend: { orientation: "h", y: -0.2 }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
      xaxis: { type: "category" }, yaxis: { rangemode: "tozero", gridcolor: "#e5e5e5" } };
    if (y2) { l.yaxis2 = { overlaying: "y", side: "right", range: [0, 105], tickvals: [0, 25, 50, 75, 100], ticksuffix: "%", showgrid: false }; }
    return l;
  };
  var config = { displayModeBar: false, responsive: true };
  Plotly.newPlot("sv-chart-volume", [
    { x: d.months, y: d.closed, type: "bar", name: d.labels.closed, marker: { color: "#00587a" } },
    { x: d.months, y: d.on_time, type: "scatter", mode: "lines+markers", name: d.labels.on_time, yaxis: "y2",
      line: { color: "#00703c", width: 3 }, connectgaps: false }
  ], layout(d.labels.closed + " · " + d.labels.on_time, true), config);
  Plotly.newPlot("sv-chart-time", [
    { x: d.months, y: d.average, type: "scatter", mode: "lines+markers", name: d.labels.average, line: { color: "#1d5fa8", width: 3 } },
    { x: d.months, y: d.p90, type: "scatter", mode: "lines+markers", name: d.labels.p90, line: { color: "#b35c00", width: 2, dash: "dot" } }
  ], layout(d.labels.average + " · " + d.labels.p90, false), config);
})();
