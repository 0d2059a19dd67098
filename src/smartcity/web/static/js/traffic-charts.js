// The traffic pages' charts: the road map coloured by level and the city's index today
// (#traffic-data), or one segment's speed and index (#segment-data). Figures come from JSON
// blocks (files, not inline script: the Content-Security-Policy); tables carry the same data.
(function () {
  if (!window.Plotly) { return; }
  var font = { family: "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif", size: 13 };
  var config = { displayModeBar: false, responsive: true };
  function timeAxis(zh) {
    return zh ? { type: "date", gridcolor: "#eee", tickformat: "%H:%M", hoverformat: "%m月%d日 %H:%M" }
              : { type: "date", gridcolor: "#eee", tickformat: "%H:%M", hoverformat: "%-d %b, %H:%M" };
  }
  var city = document.getElementById("traffic-data");
  if (city) {
    var d = JSON.parse(city.textContent);
    var traces = d.segments.map(function (s) {
      return { type: "scatter", mode: "lines", x: s.lon, y: s.lat, name: s.name,
        line: { color: d.colours[s.level], width: 5 }, hoverinfo: "text",
        text: s.name + " · " + d.labels[s.level] + (s.speed === null ? "" : " · " + s.speed.toFixed(0) + " km/h") };
    });
    Plotly.newPlot("traffic-map", traces, {
      font: font, margin: { l: 8, r: 8, t: 8, b: 8 }, height: 360, showlegend: false,
      paper_bgcolor: "#fff", plot_bgcolor: "#f4f6f4",
      xaxis: { visible: false, scaleanchor: "y", scaleratio: 1.08 }, yaxis: { visible: false }
    }, config);
    Plotly.newPlot("traffic-curve", [{ type: "scatter", mode: "lines", x: d.curve.x, y: d.curve.y,
      name: d.curve.label, line: { color: "#00587a", width: 2 } }], {
      font: font, margin: { l: 40, r: 12, t: 12, b: 40 }, height: 320, showlegend: false,
      paper_bgcolor: "#fff", plot_bgcolor: "#fff", xaxis: timeAxis(d.zh),
      yaxis: { range: [0, 10], gridcolor: "#e5e5e5", zeroline: false }
    }, config);
  }
  var one = document.getElementById("segment-data");
  if (one) {
    var s = JSON.parse(one.textContent);
    Plotly.newPlot("segment-chart", [
      { type: "scatter", mode: "lines", x: s.x, y: s.speed, name: s.labels.speed, line: { color: "#00587a", width: 2 } },
      { type: "scatter", mode: "lines", x: s.x, y: s.tpi, name: s.labels.tpi, yaxis: "y2", line: { color: "#c0262d", width: 2 } }
    ], {
      font: font, margin: { l: 44, r: 44, t: 12, b: 40 }, height: 320,
      legend: { orientation: "h", y: -0.2 }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
      xaxis: timeAxis(s.zh), yaxis: { gridcolor: "#e5e5e5", zeroline: false, rangemode: "tozero" },
      yaxis2: { overlaying: "y", side: "right", range: [0, 10], showgrid: false }
    }, config);
  }
})();
