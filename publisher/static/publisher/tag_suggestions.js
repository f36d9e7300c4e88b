// The post form's tags: the datalist offers every existing tag for the tag being typed (after the last comma),
// keeping those typed before it, and leaves out tags already given.
"use strict";
(function () {
  function completeTags(input) {
    const datalist = document.getElementById(input.getAttribute("list"));
    if (!datalist) return;
    const names = Array.from(datalist.options, (option) => option.value);
    function update() {
      const cut = input.value.lastIndexOf(",");
      const before = cut < 0 ? "" : input.value.slice(0, cut + 1) + " ";
      const given = new Set(before.split(",").map((name) => name.trim().toLowerCase()));
      datalist.replaceChildren(
        ...names
          .filter((name) => !given.has(name.toLowerCase()))
          .map((name) => new Option(name, before + (name.includes(",") ? `"${name}"` : name)))
      );
    }
    input.addEventListener("input", update);
    update();
  }
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("input[data-tag-suggestions]").forEach(completeTags);
  });
})();
