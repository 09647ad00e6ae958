// The site map: the latest kept look under the site outline and every event's outline.
"use strict";
(() => {
  const data = sitewatch.data();
  const [w, s, e, n] = data.bounds;
  const map = sitewatch.map("map", data.basemap, { bounds: [[w, s], [e, n]], fitBoundsOptions: { padding: 30 } });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  const caption = document.getElementById("look-caption");
  sitewatch.ready(map, () => {
    const looks = data.looks;
    if (looks && looks.looks.length) {
      const last = looks.looks[looks.looks.length - 1];
      const site = encodeURIComponent(data.site_id);
      map.addSource("look", {
        type: "raster", tileSize: 256,
        tiles: [`/tiles/${site}/${looks.run_id}/${last.index}/{z}/{x}/{y}.png`],
      });
      map.addLayer({ id: "look", type: "raster", source: "look" });
      caption.textContent = `Latest look: ${(last.datetime || "").slice(0, 10)}, ${last.sensor || "unknown sensor"}, run ${looks.run_id}.`;
    } else {
      caption.textContent = "No imagery kept yet for this site.";
    }
    map.addSource("site", { type: "geojson", data: data.site });
    map.addLayer({ id: "site", type: "line", source: "site", paint: { "line-color": "#4fc3f7", "line-width": 2, "line-dasharray": [2, 1] } });
    map.addSource("events", { type: "geojson", data: data.events });
    map.addLayer({
      id: "events", type: "line", source: "events",
      paint: {
        "line-width": 2,
        "line-color": ["match", ["get", "status"], "confirmed", "#ff1744", "dismissed", "#9e9e9e", "needs-imagery", "#2196f3", "#ffd600"],
      },
    });
    map.addLayer({ id: "events-hit", type: "fill", source: "events", paint: { "fill-opacity": 0 } });
    map.on("click", "events-hit", (ev) => { window.location.href = "/events/" + ev.features[0].properties.id; });
    map.on("mouseenter", "events-hit", () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", "events-hit", () => { map.getCanvas().style.cursor = ""; });
    map.once("idle", () => { document.body.dataset.mapReady = "1"; });  // drawn, tiles loaded
  });
})();
