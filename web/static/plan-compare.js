// Two plan maps side by side: panning or zooming one moves the other to the same view.
(function () {
  'use strict';

  // The map of a frame whose page has run all its scripts (its view is fitted), or null.
  function leafletMap(frame) {
    var win = frame.contentWindow;
    if (!win || !win.L || win.document.readyState !== 'complete') return null;
    var values = Object.values(win);
    for (var i = 0; i < values.length; i += 1) {
      if (values[i] instanceof win.L.Map) return values[i];
    }
    return null;
  }

  // Make each map follow the other while isCurrent() says the pair is still the one shown.
  function link(maps, isCurrent) {
    var following = false;
    maps.forEach(function (map, i) {
      var other = maps[1 - i];
      map.on('move zoomend moveend', function () {
        if (following || !isCurrent(maps)) return;
        following = true;
        other.setView(map.getCenter(), map.getZoom(), {animate: false});
        following = false;
      });
    });
    // Start from the same view: the first plan's.
    maps[1].setView(maps[0].getCenter(), maps[0].getZoom(), {animate: false});
    document.documentElement.dataset.mapsLinked = 'true';
  }

  function start() {
    var frames = Array.prototype.slice.call(document.querySelectorAll('iframe.compare-map'));
    if (frames.length !== 2) return;
    var tries = 0;
    var linked = [null, null];
    function attempt() {
      var maps = frames.map(leafletMap);
      if (maps[0] && maps[1]) {
        if (maps[0] !== linked[0] || maps[1] !== linked[1]) {
          linked = maps;
          link(maps, function (pair) { return pair === linked; });
        }
      } else if (tries < 600) {
        tries += 1;
        window.setTimeout(attempt, 100);
      }
    }
    attempt();
    // A frame that loads (again) after the first link has a new map: link the two again.
    frames.forEach(function (frame) {
      frame.addEventListener('load', function () {
        tries = 0;
        attempt();
      });
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
