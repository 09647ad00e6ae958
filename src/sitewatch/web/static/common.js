// Shared by the workbench pages: the page's data block, and maps built the same way everywhere.
"use strict";
maplibregl.setWorkerUrl("/static/vendor/maplibre-gl/maplibre-gl-csp-worker.js");

const sitewatch = {
  data() {
    const block = document.getElementById("page-data");
    return block ? JSON.parse(block.textContent) : {};
  },

  // A map with a plain background, or the analyst's own basemap when the server was given one.
  map(container, basemap, options = {}) {
    const sources = {};
    const layers = [{ id: "background", type: "background", paint: { "background-color": "#20262e" } }];
    if (basemap) {
      sources.basemap = { type: "raster", tiles: [basemap], tileSize: 256 };
      layers.push({ id: "basemap", type: "raster", source: "basemap" });
    }
    const map = new maplibregl.Map({
      container,
      style: { version: 8, sources, layers },
      attributionControl: false,
      dragRotate: false,
      pitchWithRotate: false,
      ...options,
    });
    map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
    return map;
  },

  bounds(geojson) {
    const b = new maplibregl.LngLatBounds();
    const walk = (c) => (typeof c[0] === "number" ? b.extend(c) : c.forEach(walk));
    (geojson.features || [geojson]).forEach((f) => walk(f.geometry.coordinates));
    return b;
  },

  ready(map, callback) {
    if (map.loaded()) callback();
    else map.once("load", callback);
  },
};
