// Client-side search over the published notes: loads search.json (title, address, tags,
// date and text of each note, written by the build) and ranks notes whose title, tags or
// text hold every word typed, as word prefixes. Results are built with textContent, so
// nothing from a note is ever read as HTML.
(function () {
  "use strict";
  var script = document.currentScript;
  var root = (script && script.getAttribute("data-root")) || "./";
  var input = document.getElementById("search-query");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  if (!input || !status || !list) return;
  var notes = null;

  function words(text) {
    return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  }
  function hits(haystack, word) {
    var n = 0;
    for (var i = 0; i < haystack.length; i++) if (haystack[i].indexOf(word) === 0) n++;
    return n;
  }
  function snippet(text, word) {
    var at = text.toLowerCase().indexOf(word);
    if (at < 0) at = 0;
    var start = Math.max(0, at - 60);
    var part = text.slice(start, start + 180);
    return (start > 0 ? "… " : "") + part + (start + 180 < text.length ? " …" : "");
  }
  function show(query) {
    list.textContent = "";
    var wanted = words(query);
    if (!wanted.length) { status.textContent = ""; return; }
    var found = [];
    notes.forEach(function (note) {
      var score = 0;
      for (var i = 0; i < wanted.length; i++) {
        var w = wanted[i];
        var s = hits(note.titleWords, w) * 10 + hits(note.tagWords, w) * 5 + hits(note.textWords, w);
        if (!s) return;
        score += s;
      }
      found.push({ note: note, score: score });
    });
    found.sort(function (a, b) { return b.score - a.score || a.note.t.localeCompare(b.note.t); });
    status.textContent = found.length === 0 ? "No note matches “" + query + "”."
      : found.length === 1 ? "1 note matches." : found.length + " notes match.";
    found.slice(0, 50).forEach(function (hit) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.className = "note-title";
      a.href = root + hit.note.u;
      a.textContent = hit.note.t;
      li.appendChild(a);
      var p = document.createElement("span");
      p.className = "note-summary";
      p.textContent = snippet(hit.note.x, wanted[0]);
      li.appendChild(p);
      list.appendChild(li);
    });
  }
  var query = new URLSearchParams(window.location.search).get("q") || "";
  input.value = query;
  status.textContent = "Loading the index…";
  fetch(root + "search.json")
    .then(function (response) {
      if (!response.ok) throw new Error(response.status + " " + response.statusText);
      return response.json();
    })
    .then(function (index) {
      notes = index.map(function (note) {
        note.titleWords = words(note.t);
        note.tagWords = words(note.g.join(" "));
        note.textWords = words(note.x);
        return note;
      });
      status.textContent = "";
      show(input.value);
      input.addEventListener("input", function () { show(input.value); });
    })
    .catch(function (error) {
      status.textContent = "The search index could not be loaded (" + error.message +
        "). Opened from a file? Serve the site: brain site serve.";
    });
})();
