// Starts Pagefind's UI on search.html and runs the search named in the address:
// ?q=WORDS, and ?list=NAME to keep to one list (the form on every page sends both).
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  const params = new URLSearchParams(window.location.search);
  // Pagefind finds its index beside pagefind-ui.js (site-root/pagefind/).
  const ui = new PagefindUI({
    element: "#search",
    showImages: false,
    showSubResults: false,
  });
  const list = params.get("list");
  if (list) {
    ui.triggerFilters({ list: [list] });
  }
  const query = params.get("q");
  if (query) {
    ui.triggerSearch(query);
  }
});
