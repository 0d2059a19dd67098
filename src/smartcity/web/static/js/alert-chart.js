// Readings around one sensor alert, with the threshold and where it clears; the figures come
// from the JSON block #alert-data (a file, not inline script: the Content-Security-Policy).
(function () {
  if (!window.Plotly) { return; }
  var d = JSON.parse(document.getElementById("alert-data").textContent);
  var traces = [{ x: d.x, y: d.y, type: "scatter", mode: d.x.length > 80 ? "lines" : "lines+markers",
    name: d.labels.value, line: { color: "#00587a", width: 2 }, marker: { size: 4 } }];
  var shapes = [], notes = [];
  d.lines.forEach(function (line, i) {
    shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: line.y, y1: line.y,
      line: { color: i === 0 ? "#c62828" : "#e0a100", width: 2, dash: i === 0 ? "solid" : "dash" } });
    notes.push({ xref: "paper", x: 0, xanchor: "left", y: line.y, yanchor: "bottom", text: line.label,
      showarrow: false, font: { size: 12, color: i === 0 ? "#c62828" : "#8a6d00" } });
  });
  d.marks.forEach(function (mark) {
    var raised = mark.kind === "raised" || mark.kind === "reopened";
    shapes.push({ type: "line", yref: "paper", y0: 0, y1: 1, x0: mark.x, x1: mark.x,
      line: { color: raised ? "rgba(198,40,40,.45)" : "rgba(46,125,50,.5)", width: 1, dash: "dot" } });
  });
  Plotly.newPlot("alert-chart", traces, {
    font: { family: "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif", size: 13 },
    margin: { l: 52, r: 12, t: 12, b: 40 }, height: 320, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    showlegend: false, shapes: shapes, annotations: notes,
    // Dates as each language writes them (plotly's own month names are English).
    xaxis: d.zh
      ? { type: "date", gridcolor: "#eee", tickformat: "%m月%d日\n%H:%M", hoverformat: "%Y年%m月%d日 %H:%M" }
      : { type: "date", gridcolor: "#eee", tickformat: "%-d %b\n%H:%M", hoverformat: "%-d %b %Y, %H:%M" },
    yaxis: { title: { text: d.labels.unit }, gridcolor: "#e5e5e5", zeroline: false }
  }, { displayModeBar: false, responsive: true });
})();
