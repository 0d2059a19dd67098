// Chart of one datastream; the figures come from the JSON block #ds-data.
(function () {
  if (!window.Plotly) { return; }
  var d = JSON.parse(document.getElementById("ds-data").textContent);
  var traces = [];
  if (d.band) {
    traces.push({ x: d.x, y: d.high, type: "scatter", mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false, name: d.labels.high });
    traces.push({ x: d.x, y: d.low, type: "scatter", mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: "rgba(0,88,122,.15)", name: d.labels.low + " – " + d.labels.high });
  }
  traces.push({ x: d.x, y: d.y, type: "scatter", mode: d.x.length > 60 ? "lines" : "lines+markers", name: d.labels.value, line: { color: "#00587a", width: 2.5 }, marker: { size: 5 } });
  Plotly.newPlot("ds-chart", traces, {
    font: { family: "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif", size: 13 },
    margin: { l: 56, r: 16, t: 16, b: 48 }, height: 340, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    legend: { orientation: "h", y: -0.18 },
    xaxis: d.zh
      ? { type: "date", gridcolor: "#eee", tickformat: "%m月%d日\n%H:%M", hoverformat: "%Y年%m月%d日 %H:%M" }
      : { type: "date", gridcolor: "#eee", tickformat: "%-d %b\n%H:%M", hoverformat: "%-d %b %Y, %H:%M" },
    yaxis: { title: { text: d.labels.unit }, gridcolor: "#e5e5e5", zeroline: false }
  }, { displayModeBar: false, responsive: true });
})();
