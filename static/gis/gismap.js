/*
 * gismap.js: the map helpers of the flood-evacuation and forest-fire app (Leaflet 1.9, nothing else).
 * Part of the project and under its licence; served from static/ so maps work offline.
 *
 *   L.ShapeMarker        point markers as circle, square, triangle or diamond (canvas and SVG)
 *   GisMap.unpack(data)   the features of many points sent by column (ui/map_points.py)
 *   style.hatch          areas hatched ("/", "\\", "x") in their fill colour instead of filled (canvas)
 *   GisMap.styled(...)    a GeoJSON layer styled from ONE lookup table keyed by a feature property
 *                         (linear in the number of features: no per-feature code in the page); many
 *                         points (GisMap.DOTS_MIN or more) go on one canvas of their own (GisMap.Dots), and so
 *                         do many lines (GisMap.LINES_MIN or more: GisMap.Lines)
 *   GisMap.labels(map)    place labels, decluttered after every zoom or pan (greedy, highest rank first)
 *   GisMap.legend(...)    a legend listing only the layers that are on the map, folded on narrow maps
 *   GisMap.find(...)      find a feature by name or id and zoom to it (for grids too small to click)
 *   GisMap.narrow(map)    true on a small map (the layer control starts collapsed, the legend folded)
 */
(function () {
  "use strict";
  var GisMap = {};
  var NARROW_PX = 900;

  // The attribution names Leaflet as a plain link: a government office's map carries no flag but its own.
  L.Control.Attribution.prototype.options.prefix =
    '<a href="https://leafletjs.com" title="A JavaScript library for interactive maps">Leaflet</a>';

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

  // ---- hatched areas: what lies under them shows between the lines --------------------------------
  var hatchTiles = {};
  /**
   * A small canvas tile of hatching in ``color``: ``kind`` "/" or "\\" (one direction) or "x" (both),
   * lines ``width`` px wide every ``spacing`` px; repeated as a canvas pattern it tiles without seams.
   */
  GisMap.hatchTile = function (color, kind, spacing, width) {
    var key = [color, kind, spacing, width].join("|");
    if (!hatchTiles[key]) {
      var s = spacing || 9, c = document.createElement("canvas"), x = c.getContext("2d");
      c.width = c.height = s;
      x.strokeStyle = color;
      x.lineWidth = width || 1.6;
      x.beginPath();
      if (kind !== "\\") {   // "/" : lower left to upper right, with the corners that continue it
        x.moveTo(0, s); x.lineTo(s, 0); x.moveTo(-s / 2, s / 2); x.lineTo(s / 2, -s / 2);
        x.moveTo(s / 2, s * 1.5); x.lineTo(s * 1.5, s / 2);
      }
      if (kind === "\\" || kind === "x") {
        x.moveTo(0, 0); x.lineTo(s, s); x.moveTo(-s / 2, s / 2); x.lineTo(s / 2, s * 1.5);
        x.moveTo(s / 2, -s / 2); x.lineTo(s * 1.5, s / 2);
      }
      x.stroke();
      hatchTiles[key] = c;
    }
    return hatchTiles[key];
  };
  // A path whose style has ``hatch`` ("/", "\\" or "x") is filled with hatching in its fill colour on the
  // canvas renderer (the maps' renderer: preferCanvas); the SVG renderer fills it plainly.
  // Below HATCH_NEAR_ZOOM (a county or more on the screen, where hatched patches are many and small) the lines are
  // finer and sparser and the outline thinner, so the hatching marks the areas without covering the map.
  GisMap.HATCH_NEAR_ZOOM = 12;
  var canvasFillStroke = L.Canvas.prototype._fillStroke;
  L.Canvas.include({
    _fillStroke: function (ctx, layer) {
      var o = layer.options;
      if (!o.hatch || !o.fill) { return canvasFillStroke.call(this, ctx, layer); }
      var colour = o.fillColor || o.color, weight = o.weight;
      var far = this._map && this._map.getZoom() < GisMap.HATCH_NEAR_ZOOM;
      o.fillColor = ctx.createPattern(GisMap.hatchTile(colour, o.hatch, o.hatchSpacing || (far ? 13 : 9),
                                                       o.hatchWeight || (far ? 1.1 : 1.6)), "repeat");
      if (far) { o.weight = Math.min(weight, 1); }
      try {
        canvasFillStroke.call(this, ctx, layer);
      } finally {
        o.fillColor = colour;
        o.weight = weight;
      }
    }
  });

  // ---- one style table per layer ----------------------------------------------------------------
  /**
   * A GeoJSON layer whose features take their style from ``styles[feature.properties[key]]``
   * (``styles[""]`` when the key is absent or unknown). Points become ShapeMarkers with the
   * style's ``shape`` and ``radius``. Hovering thickens the outline.
   */
  GisMap.styled = function (data, styles, key, options) {
    var jsonId = data && data.gisJson;   // a layer off at start: its JSON element is parsed when first shown
    data = jsonId ? null : GisMap.unpack(data);
    var fallback = styles[""] || {};
    function style(f) {
      var v = key && f.properties ? f.properties[key] : undefined;
      var s = v === undefined || v === null ? undefined : styles[String(v)];
      return s || fallback;
    }
    var feats = (data && data.features) || [];
    var many = GisMap.canvasLayer(feats, style, options);
    if (many) { return many; }
    var layer = L.geoJson(null, L.extend({
      style: style,
      pointToLayer: function (f, ll) {
        var s = style(f);
        return new L.ShapeMarker(ll, L.extend({fillOpacity: 0.9}, s, {radius: s.radius || 5, shape: s.shape || "circle",
                                                   interactive: !(options && options.interactive === false)}));
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
    if (typeof data === "string" || jsonId) {   // the data's address (a map shared by every session) or the id of
      if (jsonId) { layer._gisJsonId = jsonId; } else { layer._gisUrl = data; }   // its JSON element: read when shown
      layer._gisDots = {style: style, options: options};   // many points or lines: one canvas layer inside it
      layer.on("add", function () { GisMap.load(layer); });
    } else if (data) {                  // built when first shown (or searched): a layer off at start costs nothing
      layer._gisData = data;
      layer.on("add", function () { GisMap.load(layer); });
    }
    return layer;
  };

  // ---- many points sent by column ----------------------------------------------------------------
  /**
   * The FeatureCollection of data packed by column (``{type: "GisPoints"}``, written by ui/map_points.py):
   * coordinates as integer steps from the point before, each property column as a table and codes, as the
   * start and end shared with the value before plus the rest, or as its values. Anything else is returned
   * as it is.
   */
  GisMap.unpack = function (data) {
    if (!data || data.type !== "GisPoints") { return data; }
    var n = data.n, feats = new Array(n), cols = data.columns || [], vals = [], k, i;
    for (k = 0; k < cols.length; k++) {
      var c = cols[k], v;
      if (c.codes) {
        v = new Array(n);
        for (i = 0; i < n; i++) { v[i] = c.table[c.codes[i]]; }
      } else if (c.mid) {
        v = new Array(n);
        var prev = "";
        for (i = 0; i < n; i++) {
          prev = v[i] = prev.slice(0, c.head[i]) + c.mid[i] + prev.slice(prev.length - c.tail[i]);
        }
      } else {
        v = c.values;
      }
      vals.push(v);
    }
    var x = 0, y = 0, scale = data.scale;
    for (i = 0; i < n; i++) {
      x += data.x[i]; y += data.y[i];
      var props = {};
      for (k = 0; k < cols.length; k++) { props[cols[k].name] = vals[k][i]; }
      feats[i] = {type: "Feature", geometry: {type: "Point", coordinates: [x / scale, y / scale]}, properties: props};
    }
    return {type: "FeatureCollection", features: feats};
  };

  /** The JSON data element ``id`` of the page (inline layer data), parsed; null when absent. */
  GisMap.json = function (id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  };

  // ---- many points as one canvas ------------------------------------------------------------------
  /** A layer of this many points or more is drawn as GisMap.Dots: one canvas, one path per style. */
  GisMap.DOTS_MIN = 2000;
  var HIT_CELL = 16;
  /**
   * Many point features drawn on one canvas of their own, each style's points in one path (tens of
   * thousands of markers would each be a Leaflet layer with its own listeners). Popups, tooltips and
   * the search box work as on a GeoJSON layer: a click or hover finds the nearest dot under the pointer
   * and fires ``click`` / ``mouseover`` / ``mouseout`` with ``layer`` standing for that feature
   * (``feature``, ``getLatLng``, ``fire``); ``eachLayer`` visits those stand-ins.
   */
  GisMap.Dots = L.FeatureGroup.extend({   // a group to Leaflet's popups and tooltips: they keep the dot as source
    options: {pane: "overlayPane"},
    initialize: function (features, style, options) {
      L.FeatureGroup.prototype.initialize.call(this, [], options);
      this._features = features;
      this._style = style;
      this._subs = new Array(features.length);
      this._hover = -1;
    },
    _cls: "gis-dots",
    onAdd: function (map) {
      this._canvas = L.DomUtil.create("canvas", "leaflet-zoom-hide " + this._cls);
      this._place(this.getPane(), this._canvas);
      this._canvas.style.pointerEvents = "none";
      if (!this._p0) {
        this._prepare(map);
        var groups = new Map();       // one path per style: the table's entries are shared objects
        this._groupOf = [];
        for (var j = 0; j < this._features.length; j++) {
          var s = this._style(this._features[j]), grp = groups.get(s);
          if (!grp) { grp = {style: s, idx: []}; groups.set(s, grp); this._groupOf.push(grp); }
          grp.idx.push(j);
        }
      }
      map.on("moveend zoomend resize viewreset", this._redraw, this);
      if (this.options.interactive !== false) {   // a passive layer lets clicks through to what is under it
        map.on("click", this._click, this);
        map.on("mousemove", this._move, this);
        map.on("mouseout", this._leave, this);
      }
      this._redraw();
    },
    onRemove: function (map) {
      map.off("moveend zoomend resize viewreset", this._redraw, this);
      map.off("click", this._click, this);
      map.off("mousemove", this._move, this);
      map.off("mouseout", this._leave, this);
      this._leave();
      L.DomUtil.remove(this._canvas);
      this._canvas = null;
    },
    /** The canvas goes on top of the pane (the dots over lines and areas). */
    _place: function (pane, canvas) { pane.appendChild(canvas); },
    /** Each point projected once, at zoom 0 (a redraw scales and shifts them). */
    _prepare: function (map) {
      var n = this._features.length, p0 = new Float64Array(2 * n);
      for (var i = 0; i < n; i++) {
        var c = this._features[i].geometry.coordinates, p = map.project([c[1], c[0]], 0);
        p0[2 * i] = p.x; p0[2 * i + 1] = p.y;
      }
      this._p0 = p0;
    },
    /** Where the map's pixel origin, the pane's position and the zoom put zoom-0 pixels on the canvas. */
    _frame: function () {
      var map = this._map, size = map.getSize(), dpr = window.devicePixelRatio || 1, cv = this._canvas;
      L.DomUtil.setPosition(cv, map.containerPointToLayerPoint([0, 0]));
      cv.width = Math.round(size.x * dpr); cv.height = Math.round(size.y * dpr);
      cv.style.width = size.x + "px"; cv.style.height = size.y + "px";
      var ctx = cv.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      var origin = map.getPixelOrigin(), pane = map._getMapPanePos();
      return {ctx: ctx, size: size, scale: Math.pow(2, map.getZoom()), ox: pane.x - origin.x, oy: pane.y - origin.y};
    },
    _redraw: function () {
      if (!this._map || !this._canvas) { return; }
      var fr = this._frame(), ctx = fr.ctx, size = fr.size, scale = fr.scale, ox = fr.ox, oy = fr.oy, p0 = this._p0;
      var xs = this._xs = new Float32Array(p0.length / 2), ys = this._ys = new Float32Array(p0.length / 2);
      var grid = this._grid = {};
      for (var g = 0; g < this._groupOf.length; g++) {
        var grp = this._groupOf[g], s = grp.style, r = s.radius || 5, drawn = 0,
            shape = s.shape && s.shape !== "circle" ? s.shape : null, rr = Math.max(Math.round(r), 1);
        ctx.beginPath();
        for (var t = 0; t < grp.idx.length; t++) {
          var i = grp.idx[t], x = p0[2 * i] * scale + ox, y = p0[2 * i + 1] * scale + oy;
          xs[i] = x; ys[i] = y;
          if (x < -r || y < -r || x > size.x + r || y > size.y + r) { continue; }
          if (shape) {                                   // square, triangle, diamond: as L.ShapeMarker draws them
            GisMap.shapePath(shape, x, y, rr, function (px, py, k) { if (k) { ctx.lineTo(px, py); } else { ctx.moveTo(px, py); } });
            ctx.closePath();
          } else {
            ctx.moveTo(x + r, y);
            ctx.arc(x, y, r, 0, 2 * Math.PI);
          }
          var key = Math.floor(x / HIT_CELL) + ":" + Math.floor(y / HIT_CELL);
          (grid[key] = grid[key] || []).push(i);
          drawn++;
        }
        if (!drawn) { continue; }
        if (s.fill !== false) {
          ctx.globalAlpha = s.fillOpacity === undefined ? 0.9 : s.fillOpacity;
          ctx.fillStyle = s.fillColor || s.color || "#3388ff";
          ctx.fill();
        }
        if (s.stroke !== false && (s.weight === undefined || s.weight > 0)) {
          ctx.globalAlpha = s.opacity === undefined ? 1 : s.opacity;
          ctx.strokeStyle = s.color || "#3388ff";
          ctx.lineWidth = s.weight === undefined ? 1 : s.weight;
          ctx.stroke();
        }
      }
      ctx.globalAlpha = 1;
    },
    _at: function (pt) {
      if (!this._grid) { return -1; }
      var cx = Math.floor(pt.x / HIT_CELL), cy = Math.floor(pt.y / HIT_CELL), best = -1, bd = Infinity;
      for (var dx = -1; dx <= 1; dx++) {
        for (var dy = -1; dy <= 1; dy++) {
          var list = this._grid[(cx + dx) + ":" + (cy + dy)];
          if (!list) { continue; }
          for (var k = 0; k < list.length; k++) {
            var i = list[k], r = (this._style(this._features[i]).radius || 5) + 3,
                d = Math.pow(this._xs[i] - pt.x, 2) + Math.pow(this._ys[i] - pt.y, 2);
            if (d <= r * r && d < bd) { bd = d; best = i; }
          }
        }
      }
      return best;
    },
    _sub: function (i) {
      var self = this, sub = this._subs[i];
      if (!sub) {
        var f = this._features[i], c = f.geometry.coordinates;
        sub = this._subs[i] = {
          feature: f, _map: null, options: {},
          getLatLng: function () { return L.latLng(c[1], c[0]); },
          fire: function (type, data) { self.fire(type, L.extend({layer: sub, latlng: sub.getLatLng()}, data), true); return sub; },
          isPopupOpen: function () { return false; },
          getElement: function () { return null; },
          on: function () { return sub; },
          off: function () { return sub; }
        };
      }
      sub._map = this._map;
      return sub;
    },
    _click: function (e) {
      var i = this._at(e.containerPoint);
      if (i >= 0) { this.fire("click", {layer: this._sub(i), latlng: this._sub(i).getLatLng(), originalEvent: e.originalEvent}, true); }
    },
    _move: function (e) {
      var i = this._at(e.containerPoint);
      if (i === this._hover) { return; }
      this._leave();
      if (i >= 0) {
        this._hover = i;
        this._map.getContainer().style.cursor = "pointer";
        this.fire("mouseover", {layer: this._sub(i), latlng: this._sub(i).getLatLng(), originalEvent: e.originalEvent}, true);
      }
    },
    _leave: function () {
      if (this._hover < 0) { return; }
      var i = this._hover;
      this._hover = -1;
      if (this._map) { this._map.getContainer().style.cursor = ""; }
      this.fire("mouseout", {layer: this._sub(i), latlng: this._sub(i).getLatLng()}, true);
    },
    eachLayer: function (fn, ctx) {
      for (var i = 0; i < this._features.length; i++) { fn.call(ctx, this._sub(i)); }
      return this;
    },
    getElement: function () { return null; },   // no element per dot (Leaflet's tooltip asks for one)
    getLayers: function () { var out = []; this.eachLayer(function (s) { out.push(s); }); return out; },
    getBounds: function () {
      var b = L.latLngBounds([]);
      for (var i = 0; i < this._features.length; i++) {
        var c = this._features[i].geometry.coordinates;
        b.extend([c[1], c[0]]);
      }
      return b;
    }
  });
  /** A layer of this many lines or more is drawn as GisMap.Lines: one canvas, one path per style. */
  GisMap.LINES_MIN = 1000;
  var HIT_PX = 4;   // how near the pointer a line must pass, beyond half its width, to be hovered or clicked
  /**
   * Many line features (LineString, MultiLineString) drawn on one canvas of their own, under the pane's other
   * canvases (lines under points and areas), each style's lines in one path: thousands of Leaflet polylines
   * would each be a layer with its own objects and listeners (about 0.2 ms each to add). Popups, tooltips and
   * the search box work as on a GeoJSON layer: the line nearest the pointer within a few pixels is the one
   * clicked or hovered (and drawn thicker while hovered), the popup opens where the click was, and the search
   * zooms to a line's bounds.
   */
  GisMap.Lines = GisMap.Dots.extend({
    _cls: "gis-lines",
    _place: function (pane, canvas) { pane.insertBefore(canvas, pane.firstChild); },
    _prepare: function (map) {
      var feats = this._features, n = feats.length, xy = [], partAt = [0], featAt = new Int32Array(n + 1),
          box = new Float64Array(4 * n);
      for (var i = 0; i < n; i++) {
        var g = feats[i].geometry, lines = !g ? [] : g.type === "LineString" ? [g.coordinates] : g.coordinates,
            x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
        featAt[i] = partAt.length - 1;
        for (var k = 0; k < lines.length; k++) {
          for (var v = 0; v < lines[k].length; v++) {
            var c = lines[k][v], p = map.project([c[1], c[0]], 0);
            xy.push(p.x, p.y);
            if (p.x < x0) { x0 = p.x; } if (p.x > x1) { x1 = p.x; }
            if (p.y < y0) { y0 = p.y; } if (p.y > y1) { y1 = p.y; }
          }
          partAt.push(xy.length / 2);
        }
        box[4 * i] = x0; box[4 * i + 1] = y0; box[4 * i + 2] = x1; box[4 * i + 3] = y1;
      }
      featAt[n] = partAt.length - 1;
      this._p0 = new Float64Array(xy);
      this._partAt = new Int32Array(partAt);
      this._featAt = featAt;
      this._box = box;
    },
    /** Trace feature ``i``'s lines into the current path; false when it lies off the canvas. */
    _trace: function (ctx, i, fr, pad) {
      var b = this._box, s = fr.scale;
      if (b[4 * i + 2] * s + fr.ox < -pad || b[4 * i] * s + fr.ox > fr.size.x + pad ||
          b[4 * i + 3] * s + fr.oy < -pad || b[4 * i + 1] * s + fr.oy > fr.size.y + pad) { return false; }
      var p0 = this._p0, at = this._partAt;
      for (var k = this._featAt[i]; k < this._featAt[i + 1]; k++) {
        for (var v = at[k]; v < at[k + 1]; v++) {
          var x = p0[2 * v] * s + fr.ox, y = p0[2 * v + 1] * s + fr.oy;
          if (v === at[k]) { ctx.moveTo(x, y); } else { ctx.lineTo(x, y); }
        }
      }
      return true;
    },
    _stroke: function (ctx, st, extra) {
      ctx.globalAlpha = st.opacity === undefined ? 1 : st.opacity;
      ctx.strokeStyle = st.color || "#3388ff";
      ctx.lineWidth = (st.weight === undefined ? 3 : st.weight) + (extra || 0);
      ctx.lineCap = st.lineCap || "round";
      ctx.lineJoin = st.lineJoin || "round";
      ctx.setLineDash(st.dashArray ? String(st.dashArray).split(/[ ,]+/).map(Number) : []);
      ctx.stroke();
    },
    _redraw: function () {
      if (!this._map || !this._canvas) { return; }
      var fr = this._frame(), ctx = fr.ctx;
      this._fr = fr;
      for (var g = 0; g < this._groupOf.length; g++) {
        var grp = this._groupOf[g], st = grp.style, drawn = 0, pad = (st.weight || 3) + 2;
        if (st.stroke === false) { continue; }
        ctx.beginPath();
        for (var t = 0; t < grp.idx.length; t++) { drawn += this._trace(ctx, grp.idx[t], fr, pad) ? 1 : 0; }
        if (drawn) { this._stroke(ctx, st); }
      }
      if (this._hover >= 0) {   // the hovered line on top, thicker (as Leaflet's GeoJSON layers do on hover)
        ctx.beginPath();
        if (this._trace(ctx, this._hover, fr, 50)) { this._stroke(ctx, this._style(this._features[this._hover]), 2); }
      }
      ctx.globalAlpha = 1;
      ctx.setLineDash([]);
    },
    /** The feature whose line passes nearest ``pt`` (container pixels) within reach, or -1. */
    _at: function (pt) {
      var fr = this._fr;
      if (!fr) { return -1; }
      var s = fr.scale, b = this._box, p0 = this._p0, at = this._partAt, best = -1, bd = Infinity;
      for (var i = 0; i < this._features.length; i++) {
        var st = this._style(this._features[i]);
        if (st.stroke === false) { continue; }
        var reach = (st.weight || 3) / 2 + HIT_PX;
        if (b[4 * i + 2] * s + fr.ox < pt.x - reach || b[4 * i] * s + fr.ox > pt.x + reach ||
            b[4 * i + 3] * s + fr.oy < pt.y - reach || b[4 * i + 1] * s + fr.oy > pt.y + reach) { continue; }
        for (var k = this._featAt[i]; k < this._featAt[i + 1]; k++) {
          for (var v = at[k] + 1; v < at[k + 1]; v++) {
            var ax = p0[2 * v - 2] * s + fr.ox, ay = p0[2 * v - 1] * s + fr.oy,
                bx = p0[2 * v] * s + fr.ox, by = p0[2 * v + 1] * s + fr.oy,
                dx = bx - ax, dy = by - ay, len = dx * dx + dy * dy,
                u = len ? Math.max(0, Math.min(1, ((pt.x - ax) * dx + (pt.y - ay) * dy) / len)) : 0,
                ex = ax + u * dx - pt.x, ey = ay + u * dy - pt.y, d = ex * ex + ey * ey;
            if (d <= reach * reach && d < bd) { bd = d; best = i; }
          }
        }
      }
      return best;
    },
    _sub: function (i) {
      var sub = GisMap.Dots.prototype._sub.call(this, i), self = this;
      if (!sub.getBounds) {
        sub.getBounds = function () { return self._bounds(i); };
        // where a tooltip or popup of the line opens: the pointer's place when it came from one, else its middle
        sub.getLatLng = sub.getCenter = function () { return sub._at || self._bounds(i).getCenter(); };
      }
      return sub;
    },
    _bounds: function (i) {
      var b = L.latLngBounds([]), g = this._features[i].geometry;
      var lines = !g ? [] : g.type === "LineString" ? [g.coordinates] : g.coordinates;
      for (var k = 0; k < lines.length; k++) {
        for (var v = 0; v < lines[k].length; v++) { b.extend([lines[k][v][1], lines[k][v][0]]); }
      }
      return b;
    },
    _click: function (e) {
      var i = this._at(e.containerPoint);
      if (i < 0) { return; }
      var sub = this._sub(i);
      sub._at = e.latlng;
      this.fire("click", {layer: sub, latlng: e.latlng, originalEvent: e.originalEvent}, true);
    },
    _move: function (e) {
      var i = this._at(e.containerPoint);
      if (i === this._hover) { return; }
      this._leave();
      if (i >= 0) {
        var sub = this._sub(i);
        sub._at = e.latlng;
        this._hover = i;
        this._map.getContainer().style.cursor = "pointer";
        this._redraw();
        this.fire("mouseover", {layer: sub, latlng: e.latlng, originalEvent: e.originalEvent}, true);
      }
    },
    _leave: function () {
      if (this._hover < 0) { return; }
      var i = this._hover;
      this._hover = -1;
      if (this._map) { this._map.getContainer().style.cursor = ""; }
      this._redraw();
      this.fire("mouseout", {layer: this._sub(i), latlng: this._sub(i).getLatLng()}, true);
    },
    getBounds: function () {
      var b = L.latLngBounds([]);
      for (var i = 0; i < this._features.length; i++) { b.extend(this._bounds(i)); }
      return b;
    }
  });
  /**
   * The canvas layer for ``feats`` when they are many of one kind: GisMap.Dots for GisMap.DOTS_MIN points or more,
   * GisMap.Lines for GisMap.LINES_MIN lines or more; null otherwise (a GeoJSON layer draws them).
   */
  GisMap.canvasLayer = function (feats, style, options) {
    function all(types) {
      return feats.every(function (f) { return f.geometry && types.indexOf(f.geometry.type) >= 0; });
    }
    if (feats.length >= GisMap.DOTS_MIN && all(["Point"])) { return new GisMap.Dots(feats, style, options); }
    if (feats.length >= GisMap.LINES_MIN && all(["LineString", "MultiLineString"])) {
      return new GisMap.Lines(feats, style, options);
    }
    return null;
  };
  /**
   * Fetch JSON from an address; a ``.gz`` address (compressed once by the server, served as it is) is inflated
   * here (DecompressionStream); a browser without it fetches the plain file beside it (the address without .gz).
   */
  GisMap.fetchJson = function (url) {
    var gz = /\.gz$/.test(url);
    if (gz && typeof DecompressionStream === "undefined") { url = url.slice(0, -3); gz = false; }
    return fetch(url).then(function (r) {
      if (!r.ok) { throw new Error(r.status + " " + url); }
      if (!gz) { return r.json(); }
      return new Response(r.body.pipeThrough(new DecompressionStream("gzip"))).json();
    });
  };
  /** Fetches under way (a map is drawn once none is left). */
  GisMap.pending = 0;
  /**
   * Fetch the data of a layer made by ``GisMap.styled`` from an address (once); a promise of the layer with
   * its features. Layers with their data inline are built (once) and resolve at once.
   */
  /** Give a layer made by GisMap.styled its features ``d`` (many points: one GisMap.Dots inside it). */
  function fill(layer, d) {
    d = GisMap.unpack(d);
    var feats = (d && d.features) || [];
    var many = layer._gisDots && GisMap.canvasLayer(feats, layer._gisDots.style, layer._gisDots.options);
    if (many) {
      layer.addLayer(many);   // its events reach the layer (popups, tooltips bound on it)
      layer.eachLayer = function (fn, ctx) { many.eachLayer(fn, ctx); return layer; };   // the search: each feature
    } else {
      layer.addData(d);
    }
    layer.fire("gisloaded");
    return layer;
  }
  GisMap.load = function (layer) {
    if (layer._gisData) {               // inline data not built yet: built now
      var data = layer._gisData;
      layer._gisData = null;
      layer.addData(data);
      layer.fire("gisloaded");
    }
    if (layer._gisJsonId) {             // inline data of a layer off at start: parsed and built now
      var id = layer._gisJsonId;
      layer._gisJsonId = null;
      fill(layer, GisMap.json(id));
    }
    if (!layer._gisUrl) { return Promise.resolve(layer); }
    if (!layer._gisLoading) {
      GisMap.pending++;
      layer._gisLoading = GisMap.fetchJson(layer._gisUrl).then(function (d) {
        return fill(layer, d);
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
    // once per frame however many layers came or went (a GeoJSON layer adds each of its features: thousands of
    // layeradd events, each of which scheduled an update of its own)
    var queued = false;
    map.on("overlayadd overlayremove layeradd layerremove", function () {
      if (queued) { return; }
      queued = true;
      L.Util.requestAnimFrame(function () { queued = false; ctl.update(); });
    });
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
      input.title = placeholder;
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
            return function (ev) {
              // the item is gone once the list is emptied: the map would take the click as its own and close
              // the popup just opened
              L.DomEvent.stopPropagation(ev);
              go(hit); list.innerHTML = ""; input.value = hit.text;
            };
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
