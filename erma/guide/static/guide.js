// The guide's only script: filter the list while typing (the form still searches without it),
// and the print button. No data leaves the page.
(function () {
  "use strict";
  var box = document.getElementById("q");
  var catalog = document.getElementById("catalog");
  if (box && catalog) {
    var noMatch = document.getElementById("no-match");
    var filter = function () {
      var words = box.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      catalog.querySelectorAll("section.category").forEach(function (section) {
        var inSection = 0;
        section.querySelectorAll("li.item").forEach(function (li) {
          var text = (li.getAttribute("data-words") || "").toLowerCase();
          var hit = words.every(function (w) { return text.indexOf(w) >= 0; });
          li.hidden = !hit;
          if (hit) { inSection += 1; }
        });
        section.hidden = inSection === 0;
        shown += inSection;
      });
      if (noMatch) { noMatch.hidden = shown > 0; }
    };
    box.addEventListener("input", filter);
  }
  var print = document.getElementById("print-page");
  if (print) {
    print.addEventListener("click", function () { window.print(); });
  }
})();
