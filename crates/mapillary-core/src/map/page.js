// The optional background: OpenStreetMap tiles, loaded only when the box
// is ticked. The drawing is in Web Mercator at the scale and offset the
// <svg> carries, so each tile is placed where the tile scheme puts it.
(function () {
  "use strict";
  var svgNS = "http://www.w3.org/2000/svg";
  var map = document.getElementById("map");
  var box = document.getElementById("tiles-on");
  var layer = document.getElementById("tiles");
  var credit = document.getElementById("tile-credit");
  if (!map || !box || !layer || !credit) return;
  // Browsers may restore a ticked box on reload: off unless ticked now.
  box.checked = false;
  function addTiles() {
    var d = map.dataset;
    var scale = Number(d.scale), left = Number(d.left), top = Number(d.top);
    var width = Number(d.width), height = Number(d.height);
    // The zoom whose tiles are drawn closest to their 256 pixels; OSM
    // serves zooms 0 to 19.
    var z = Math.max(0, Math.min(19, Math.round(Math.log2(scale / 256))));
    var n = Math.pow(2, z), size = scale / n;
    var x0 = Math.floor(left / size), x1 = Math.floor((left + width) / size);
    var y0 = Math.max(0, Math.floor(top / size));
    var y1 = Math.min(n - 1, Math.floor((top + height) / size));
    for (var ty = y0; ty <= y1; ty++) {
      for (var tx = x0; tx <= x1; tx++) {
        var img = document.createElementNS(svgNS, "image");
        var wrapped = ((tx % n) + n) % n;
        img.setAttribute("href", "https://tile.openstreetmap.org/" + z + "/" + wrapped + "/" + ty + ".png");
        img.setAttribute("x", String(tx * size - left));
        img.setAttribute("y", String(ty * size - top));
        img.setAttribute("width", String(size));
        img.setAttribute("height", String(size));
        img.setAttribute("data-tile", z + "/" + wrapped + "/" + ty);
        layer.appendChild(img);
      }
    }
  }
  box.addEventListener("change", function () {
    if (box.checked && !layer.hasChildNodes()) addTiles();
    layer.setAttribute("display", box.checked ? "inline" : "none");
    credit.setAttribute("display", box.checked ? "inline" : "none");
  });
})();
