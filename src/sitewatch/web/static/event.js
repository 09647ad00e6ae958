// The event page: before/after swipe, a time slider through every look, and keyboard triage.
"use strict";
(() => {
  const data = sitewatch.data();
  const looks = data.looks || [];
  const tileUrl = (look) => data.tiles.replace("{look}", String(looks[look].index));
  const describe = (look) => `${(looks[look].datetime || "?").slice(0, 10)} · ${looks[look].sensor || "unknown sensor"} · ${looks[look].resolution_m} m`;

  // one raster layer per look, added when first shown: moving the slider back is instant
  function showLook(map, look) {
    const id = `look-${look}`;
    if (!map.getLayer(id)) {
      map.addSource(id, { type: "raster", tiles: [tileUrl(look)], tileSize: 256 });
      map.addLayer({ id, type: "raster", source: id }, map.getLayer("site") ? "site" : undefined);
    }
    for (const layer of map.getStyle().layers) {
      if (layer.id.startsWith("look-")) map.setLayoutProperty(layer.id, "visibility", layer.id === id ? "visible" : "none");
    }
  }

  function imageryMap(container, look) {
    const bounds = sitewatch.bounds(data.event);
    const map = sitewatch.map(container, data.basemap, {
      bounds, fitBoundsOptions: { padding: 120, maxZoom: 17 },
    });
    sitewatch.ready(map, () => {
      showLook(map, look);
      map.addSource("site", { type: "geojson", data: data.site });
      map.addLayer({ id: "site", type: "line", source: "site", paint: { "line-color": "#4fc3f7", "line-width": 1.5, "line-dasharray": [2, 1] } });
      map.addSource("event", { type: "geojson", data: data.event });
      map.addLayer({ id: "event", type: "line", source: "event", paint: { "line-color": "#ffd600", "line-width": 2.5 } });
    });
    return map;
  }

  if (looks.length) {
    const before = imageryMap("map-before", data.before);
    const after = imageryMap("map-after", data.after);
    after.addControl(new maplibregl.NavigationControl({ showCompass: false }));
    // the two maps move together, whichever the analyst drags
    let syncing = false;
    const follow = (from, to) => () => {
      if (syncing) return;
      syncing = true;
      to.jumpTo({ center: from.getCenter(), zoom: from.getZoom() });
      syncing = false;
    };
    before.on("move", follow(before, after));
    after.on("move", follow(after, before));

    const compare = document.getElementById("compare");
    const line = document.getElementById("swipe-line");
    const swipe = document.getElementById("swipe");
    const afterBox = document.getElementById("map-after");
    const setSwipe = () => {
      const share = Number(swipe.value);
      afterBox.style.clipPath = `inset(0 0 0 ${share}%)`;
      line.style.left = `${share}%`;
      compare.dataset.swipe = String(share);
    };
    swipe.addEventListener("input", setSwipe);
    setSwipe();

    const time = document.getElementById("time");
    const label = document.getElementById("look-label");
    document.getElementById("before-label").textContent = describe(data.before);
    const setLook = () => {
      const look = Number(time.value);
      label.textContent = describe(look);
      compare.dataset.look = String(look);
      sitewatch.ready(after, () => showLook(after, look));
    };
    time.addEventListener("input", setLook);
    setLook();
    let loaded = 0;
    for (const map of [before, after]) {
      sitewatch.ready(map, () => map.once("idle", () => {  // drawn, tiles loaded
        loaded += 1;
        if (loaded === 2) document.body.dataset.mapReady = "1";
      }));
    }
  }

  // keyboard triage: c confirm, d dismiss (with the chosen reason), i needs imagery, n next, b back
  const form = document.getElementById("review");
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)
      && document.activeElement.type !== "range";
    if (typing) return;
    const verdicts = { c: "confirmed", d: "dismissed", i: "needs-imagery" };
    if (form && verdicts[event.key]) {
      event.preventDefault();
      form.querySelector(`button[value="${verdicts[event.key]}"]`).click();
    } else if (event.key === "n" || event.key === "b") {
      const link = document.getElementById(event.key === "n" ? "queue-next" : "queue-back");
      if (link) {
        event.preventDefault();
        window.location.href = link.href;
      }
    }
  });
})();
