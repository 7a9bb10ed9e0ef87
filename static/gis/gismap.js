/*
 * gismap.js: the map helpers of the flood-evacuation and forest-fire app (Leaflet 1.9, nothing else).
 * Part of the project and under its licence; served from static/ so maps work offline.
 *
 *   L.ShapeMarker        point markers as circle, square, triangle or diamond (canvas and SVG)
 *   GisMap.styled(...)    a GeoJSON layer styled from ONE lookup table keyed by a feature property
 *                         (linear in the number of features: no per-feature code in the page)
 *   GisMap.labels(map)    place labels, decluttered after every zoom or pan (greedy, highest rank first)
 *   GisMap.legend(...)    a legend listing only the layers that are on the map, folded on narrow maps
 *   GisMap.find(...)      find a feature by name or id and zoom to it (for grids too small to click)
 *   GisMap.narrow(map)    true on a small map (the layer control starts collapsed, the legend folded)
 */
(function () {
  "use strict";
  var GisMap = {};
  var NARROW_PX = 900;

  // ---- point markers of several shapes ------------------------------------------------------
  GisMap.shapePath = function (shape, x, y, r, to) {
    var pts;
    if (shape === "square") {
      var s = r * 0.9;
      pts = [[x - s, y - s], [x + s, y - s], [x + s, y + s], [x - s, y + s]];
    } else if (shape === "triangle") {
      var h = r * 1.2;
      pts = [[x, y - h], [x + h * 0.95, y + h * 0.65], [x - h * 0.95, y + h * 0.65]];
    } else {  // diamond
      var d = r * 1.15;
      pts = [[x, y - d], [x + d, y], [x, y + d], [x - d, y]];
    }
    for (var i = 0; i < pts.length; i++) { to(pts[i][0], pts[i][1], i); }
  };

  L.ShapeMarker = L.CircleMarker.extend({
    options: {shape: "circle"},
    _updatePath: function () {
      if (!this.options.shape || this.options.shape === "circle") {
        return L.CircleMarker.prototype._updatePath.call(this);
      }
      this._renderer._updateShape(this);
    }
  });
  L.Canvas.include({
    _updateShape: function (layer) {
      if (!this._drawing || layer._empty()) { return; }
      var p = layer._point, ctx = this._ctx, r = Math.max(Math.round(layer._radius), 1);
      ctx.beginPath();
      GisMap.shapePath(layer.options.shape, p.x, p.y, r, function (x, y, i) {
        if (i) { ctx.lineTo(x, y); } else { ctx.moveTo(x, y); }
      });
      ctx.closePath();
      this._fillStroke(ctx, layer);
    }
  });
  L.SVG.include({
    _updateShape: function (layer) {
      var p = layer._point, r = Math.max(Math.round(layer._radius), 1), d = "";
      GisMap.shapePath(layer.options.shape, p.x, p.y, r, function (x, y, i) { d += (i ? "L" : "M") + x + " " + y; });
      this._setPath(layer, layer._empty() ? "M0 0" : d + "z");
    }
  });

  // ---- one style table per layer ----------------------------------------------------------------
  /**
   * A GeoJSON layer whose features take their style from ``styles[feature.properties[key]]``
   * (``styles[""]`` when the key is absent or unknown). Points become ShapeMarkers with the
   * style's ``shape`` and ``radius``. Hovering thickens the outline.
   */
  GisMap.styled = function (data, styles, key, options) {
    var fallback = styles[""] || {};
    function style(f) {
      var v = key && f.properties ? f.properties[key] : undefined;
      var s = v === undefined || v === null ? undefined : styles[String(v)];
      return s || fallback;
    }
    var layer = L.geoJson(null, L.extend({
      style: style,
      pointToLayer: function (f, ll) {
        var s = style(f);
        return new L.ShapeMarker(ll, L.extend({fillOpacity: 0.9}, s, {radius: s.radius || 5, shape: s.shape || "circle"}));
      },
      onEachFeature: function (f, sub) {
        sub.on("mouseover", function (e) {
          if (e.target.setStyle) { e.target.setStyle({weight: (style(f).weight || 1) + 2}); }
        });
        sub.on("mouseout", function (e) {
          if (e.target.setStyle && !e.target.isPopupOpen()) { layer.resetStyle(e.target); }
        });
      }
    }, options || {}));
    if (typeof data === "string") {     // the data's address (a map shared by every session): fetched when shown
      layer._gisUrl = data;
      layer.on("add", function () { GisMap.load(layer); });
    } else {
      layer.addData(data);
    }
    return layer;
  };

  /** Fetches under way (a map is drawn once none is left). */
  GisMap.pending = 0;
  /**
   * Fetch the data of a layer made by ``GisMap.styled`` from an address (once); a promise of the layer with
   * its features. Layers with their data inline resolve at once.
   */
  GisMap.load = function (layer) {
    if (!layer._gisUrl) { return Promise.resolve(layer); }
    if (!layer._gisLoading) {
      GisMap.pending++;
      layer._gisLoading = fetch(layer._gisUrl).then(function (r) {
        if (!r.ok) { throw new Error(r.status + " " + layer._gisUrl); }
        return r.json();
      }).then(function (d) {
        layer.addData(d);
        layer.fire("gisloaded");
        return layer;
      }).catch(function (e) {
        if (window.console) { console.error("GisMap: layer data not loaded:", e); }
        return layer;
      }).then(function (l) {
        GisMap.pending--;
        return l;
      });
    }
    return layer._gisLoading;
  };

  // ---- place labels with decluttering ------------------------------------------------------------
  var measureCtx = null;
  function textWidth(text, font) {
    if (!measureCtx) { measureCtx = document.createElement("canvas").getContext("2d"); }
    measureCtx.font = font;
    return measureCtx.measureText(text).width;
  }
  var FONTS = {  // must match gismap.css
    "gis-label-township": ["bold 14px sans-serif", 18],
    "gis-label-major": ["bold 12px sans-serif", 16],
    "gis-label": ["12px sans-serif", 15]
  };

  function Labels(map) {
    this.map = map;
    this.items = [];
    this.pool = [];
    this.pane = map.getPane("gisLabels") || map.createPane("gisLabels");
    this.pane.style.zIndex = 640;
    this.pane.style.pointerEvents = "none";
    var self = this, queued = false;
    this.schedule = function () {
      if (queued) { return; }
      queued = true;
      L.Util.requestAnimFrame(function () { queued = false; self.place(); });
    };
    map.on("zoomstart", function () { self.pane.style.display = "none"; });
    map.on("zoomend moveend resize overlayadd overlayremove layeradd layerremove", function () {
      self.pane.style.display = "";
      self.schedule();
    });
    map.whenReady(this.schedule);
  }
  /**
   * Add labels: ``list`` of [lat, lon, text]; ``opts``: rank (higher wins), minZoom, maxZoom,
   * cls (gis-label, gis-label-major, gis-label-township), center (true: centred on the point,
   * else beside a marker), group (the labels show only while this layer is on the map).
   */
  Labels.prototype.add = function (list, opts) {
    var o = L.extend({rank: 0, minZoom: 0, maxZoom: 30, cls: "gis-label", center: false, group: null}, opts || {});
    var font = FONTS[o.cls] || FONTS["gis-label"];
    for (var i = 0; i < list.length; i++) {
      var t = String(list[i][2]);
      this.items.push({ll: L.latLng(list[i][0], list[i][1]), text: t, rank: o.rank, minZoom: o.minZoom,
                       maxZoom: o.maxZoom, cls: o.cls, center: o.center, group: o.group,
                       w: Math.ceil(textWidth(t, font[0])) + 6, h: font[1], order: this.items.length});
    }
    this.items.sort(function (a, b) { return b.rank - a.rank || a.order - b.order; });
    this.schedule();
    return this;
  };
  Labels.prototype.place = function () {
    var map = this.map, z = map.getZoom(), size = map.getSize(), CELL = 48, grid = {}, used = 0;
    function cells(b, mark) {
      var x0 = Math.floor(b[0] / CELL), x1 = Math.floor(b[2] / CELL), y0 = Math.floor(b[1] / CELL),
          y1 = Math.floor(b[3] / CELL);
      for (var cx = x0; cx <= x1; cx++) {
        for (var cy = y0; cy <= y1; cy++) {
          var k = cx + ":" + cy, list = grid[k];
          if (mark) { (grid[k] = list || []).push(b); continue; }
          if (!list) { continue; }
          for (var i = 0; i < list.length; i++) {
            var o = list[i];
            if (b[0] < o[2] && o[0] < b[2] && b[1] < o[3] && o[1] < b[3]) { return true; }
          }
        }
      }
      return false;
    }
    for (var i = 0; i < this.items.length; i++) {
      var it = this.items[i];
      if (z < it.minZoom || z > it.maxZoom || (it.group && !map.hasLayer(it.group))) { continue; }
      var p = map.latLngToContainerPoint(it.ll);
      if (p.x < -it.w || p.y < -it.h || p.x > size.x + it.w || p.y > size.y + it.h) { continue; }
      var boxes = it.center ? [[p.x - it.w / 2, p.y - it.h / 2]] :
        [[p.x + 7, p.y - it.h / 2], [p.x - 7 - it.w, p.y - it.h / 2], [p.x - it.w / 2, p.y - 6 - it.h],
         [p.x - it.w / 2, p.y + 6]];
      var put = null;
      for (var j = 0; j < boxes.length && !put; j++) {
        var b = [boxes[j][0], boxes[j][1], boxes[j][0] + it.w, boxes[j][1] + it.h];
        if (b[0] >= 0 && b[1] >= 0 && b[2] <= size.x && b[3] <= size.y && !cells(b, false)) { put = b; }
      }
      if (!put) { continue; }
      cells(put, true);
      var el = this.pool[used];
      if (!el) {
        el = this.pool[used] = L.DomUtil.create("div", "", this.pane);
      }
      used++;
      el.className = "gis-label-box " + it.cls;
      el.textContent = it.text;
      el.style.display = "";
      L.DomUtil.setPosition(el, map.containerPointToLayerPoint([put[0], put[1]]));
    }
    for (var k = used; k < this.pool.length; k++) { this.pool[k].style.display = "none"; }
    this.shown = used;
  };
  GisMap.labels = function (map) {
    if (!map._gisLabels) { map._gisLabels = new Labels(map); }
    return map._gisLabels;
  };

  // ---- narrow maps --------------------------------------------------------------------------------
  GisMap.narrow = function (map) {
    var w = map && map.getSize ? map.getSize().x : window.innerWidth;
    return Math.min(w || window.innerWidth, window.innerWidth) < NARROW_PX;
  };

  // ---- legend of the visible layers ---------------------------------------------------------
  /**
   * ``el``: the legend's element (rows ``[data-row=i]``, drawn by the page); ``layers[i]``: the Leaflet
   * layer of row i, a list of them, or null (always listed). A row is listed only while its layer is
   * on the map; the legend moves into the map's lower-left corner and is folded on a narrow map.
   */
  GisMap.legend = function (map, el, layers) {
    if (!el) { return null; }
    var ctl = L.control({position: "bottomleft"});
    ctl.onAdd = function () {
      var details = el.querySelector("details");
      if (details && GisMap.narrow(map)) { details.removeAttribute("open"); }
      L.DomEvent.disableClickPropagation(el);
      L.DomEvent.disableScrollPropagation(el);
      return el;
    };
    ctl.update = function () {
      var shown = 0;
      for (var i = 0; i < layers.length; i++) {
        var lay = layers[i], on = !lay;
        if (lay && !Array.isArray(lay)) { lay = [lay]; }
        for (var j = 0; lay && j < lay.length && !on; j++) { on = map.hasLayer(lay[j]); }
        var row = el.querySelector('[data-row="' + i + '"]');
        if (row) { row.style.display = on ? "" : "none"; }
        shown += on ? 1 : 0;
      }
      el.style.display = shown ? "" : "none";
    };
    ctl.addTo(map);
    map.on("overlayadd overlayremove layeradd layerremove", function () { L.Util.requestAnimFrame(ctl.update); });
    ctl.update();
    return ctl;
  };

  // ---- find a feature by name or id ------------------------------------------------------------
  /**
   * ``sources``: [{layer: a GeoJSON layer, group: the layer-control entry holding it, fields: [...]}];
   * typing shows up to 12 matches; choosing one zooms to it and opens its popup.
   */
  GisMap.find = function (map, sources, placeholder) {
    var index = null, loading = null;
    function build() {
      index = [];
      sources.forEach(function (src) {
        src.layer.eachLayer(function (sub) {
          var p = (sub.feature && sub.feature.properties) || {};
          var words = src.fields.map(function (f) { return p[f]; }).filter(function (v) {
            return v !== undefined && v !== null && v !== "";
          });
          if (words.length) { index.push({text: words.join(" · "), low: words.join(" ").toLowerCase(), sub: sub, src: src}); }
        });
      });
    }
    var ctl = L.control({position: "topleft"});
    ctl.onAdd = function () {
      var div = L.DomUtil.create("div", "gis-find leaflet-bar leaflet-control");
      var input = L.DomUtil.create("input", "", div);
      input.type = "search";
      input.placeholder = placeholder;
      var list = L.DomUtil.create("div", "gis-find-list", div);
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      input.addEventListener("input", function search() {
        if (!index) {     // layers whose data is fetched on demand are fetched (not shown) before the first search
          if (!loading) {
            loading = Promise.all(sources.map(function (src) { return GisMap.load(src.layer); }))
              .then(function () { build(); search(); });
          }
          return;
        }
        var q = input.value.trim().toLowerCase();
        list.innerHTML = "";
        if (!q) { return; }
        var n = 0;
        for (var i = 0; i < index.length && n < 12; i++) {
          if (index[i].low.indexOf(q) < 0) { continue; }
          var item = L.DomUtil.create("div", "gis-find-item", list);
          item.textContent = index[i].text;
          item.addEventListener("click", (function (hit) {
            return function () { go(hit); list.innerHTML = ""; input.value = hit.text; };
          })(index[i]));
          n++;
        }
      });
      return div;
    };
    function go(hit) {
      if (hit.src.group && !map.hasLayer(hit.src.group)) { map.addLayer(hit.src.group); }
      var at;
      if (hit.sub.getBounds) {
        map.fitBounds(hit.sub.getBounds(), {maxZoom: 17, padding: [30, 30], animate: false});
        at = hit.sub.getBounds().getCenter();
      } else {
        at = hit.sub.getLatLng();
        map.setView(at, Math.max(map.getZoom(), 15), {animate: false});
      }
      hit.sub.fire("click", {latlng: at}, true);   // the popup bound on its layer opens as on a click
    }
    ctl.addTo(map);
    return ctl;
  };

  window.GisMap = GisMap;
})();
