// The series of the 12345 hot-spot page; the figures come from the JSON block #hi-series.
(function () {
  if (!window.Plotly) { return; }
  var d = JSON.parse(document.getElementById("hi-series").textContent);
  var font = { family: "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif", size: 13 };
  Plotly.newPlot("hi-chart", [
    { x: d.x, y: d.y, type: "bar", name: d.name, marker: { color: "#00587a" } }
  ], { font: font, margin: { l: 48, r: 16, t: 16, b: 56 }, height: 280, paper_bgcolor: "#fff",
       plot_bgcolor: "#fff", xaxis: { type: "category", automargin: true },
       yaxis: { rangemode: "tozero", gridcolor: "#e5e5e5" } },
  { displayModeBar: false, responsive: true });
})();
