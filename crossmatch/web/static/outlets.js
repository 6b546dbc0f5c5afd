// Outlet page: draws the account graph from its JSON data block with the vendored Cytoscape.js.
// Nodes coloured by platform (legend below), sized by matched items; no inline code or styles (CSP).
(function () {
  "use strict";
  var PALETTE = ["#1f5fae", "#c2571a", "#1d6b3a", "#8a3fa0", "#a3262b", "#0f7d86", "#6b5b00", "#444c56"];

  function draw() {
    var box = document.getElementById("outlet-graph");
    var data = document.getElementById("outlet-graph-data");
    if (!box || !data || typeof window.cytoscape !== "function") return;
    var graph = JSON.parse(data.textContent);
    var platforms = [];
    graph.nodes.forEach(function (n) {
      if (platforms.indexOf(n.data.platform) < 0) platforms.push(n.data.platform);
    });
    platforms.sort();
    var colour = {};
    platforms.forEach(function (p, i) { colour[p] = PALETTE[i % PALETTE.length]; });
    graph.nodes.forEach(function (n) {
      n.data.colour = colour[n.data.platform];
      n.data.size = 18 + 8 * Math.sqrt(n.data.matches);
      n.data.label = n.data.id.slice(0, 13) + "…";  // full ids are in the accounts table below
    });
    var cy = window.cytoscape({
      container: box,
      elements: graph.nodes.concat(graph.edges),
      layout: { name: "cose", animate: false, randomize: false, padding: 40 },
      maxZoom: 1.5,
      style: [
        { selector: "node", style: { "background-color": "data(colour)", width: "data(size)", height: "data(size)",
          label: "data(label)", "font-size": 11, color: "#1b1f24", "text-valign": "bottom", "text-margin-y": 3 } },
        { selector: "edge", style: { width: "mapData(weight, 0, 4, 1, 6)", "line-color": "#8b96a3", opacity: 0.7 } }
      ]
    });
    box.dataset.nodes = String(cy.nodes().length);  // read by the browser test
    var legend = document.getElementById("graph-legend");
    platforms.forEach(function (p) {
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.backgroundColor = colour[p];
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(p));
      legend.appendChild(item);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
