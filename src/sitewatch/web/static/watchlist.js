// The watchlist map: every site's outline, with its count of new events; click to open the site.
"use strict";
(() => {
  const data = sitewatch.data();
  const sites = data.sites;
  const map = sitewatch.map("map", data.basemap, { center: [0, 20], zoom: 1 });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  sitewatch.ready(map, () => {
    map.addSource("sites", { type: "geojson", data: sites });
    map.addLayer({
      id: "sites-fill", type: "fill", source: "sites",
      paint: { "fill-color": ["case", [">", ["get", "new"], 0], "#ff7043", "#4fc3f7"], "fill-opacity": 0.25 },
    });
    map.addLayer({
      id: "sites-line", type: "line", source: "sites",
      paint: { "line-color": ["case", [">", ["get", "new"], 0], "#ff7043", "#4fc3f7"], "line-width": 2 },
    });
    for (const feature of sites.features) {
      const label = document.createElement("a");
      label.className = "site-label" + (feature.properties.new > 0 ? " hot" : "");
      label.href = "/sites/" + encodeURIComponent(feature.properties.id);
      label.textContent = feature.properties.name + " · " + feature.properties.new + " new";  // text, never HTML
      const centre = sitewatch.bounds(feature).getCenter();
      new maplibregl.Marker({ element: label }).setLngLat(centre).addTo(map);
    }
    map.on("click", "sites-fill", (e) => {
      window.location.href = "/sites/" + encodeURIComponent(e.features[0].properties.id);
    });
    map.on("mouseenter", "sites-fill", () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", "sites-fill", () => { map.getCanvas().style.cursor = ""; });
    if (sites.features.length) map.fitBounds(sitewatch.bounds(sites), { padding: 60, maxZoom: 14, duration: 0 });
    map.once("idle", () => { document.body.dataset.mapReady = "1"; });  // drawn, tiles loaded
  });
})();
