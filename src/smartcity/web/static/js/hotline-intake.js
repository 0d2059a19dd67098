// The 12345 intake page: the classifier's suggestions as the agent types, a click on one
// picks its category, and Ctrl+Enter saves the call. The form works without this script.
(function () {
  "use strict";
  var box = document.getElementById("hl-suggest");
  var text = document.getElementById("text");
  var form = text && text.form;
  if (!box || !text || !form) { return; }
  var list = document.getElementById("hl-suggest-list");
  var empty = document.getElementById("hl-suggest-empty");
  var category = document.getElementById("category");
  var timer = null;
  var asked = "";

  function show(rows) {
    list.textContent = "";
    rows.forEach(function (row) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button secondary";
      button.textContent = row.category_name + " → " + row.department_name + " " + row.percent + "%";
      button.addEventListener("click", function () {
        if (category) { category.value = row.category; }
      });
      li.appendChild(button);
      list.appendChild(li);
    });
    empty.hidden = rows.length > 0;
  }

  function ask() {
    var value = text.value.trim();
    if (value === asked) { return; }
    asked = value;
    if (!value) { show([]); return; }
    fetch(box.dataset.url + "?text=" + encodeURIComponent(value.slice(0, 2000)), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
      .then(function (data) {
        show(data.suggestions || []);
        if (category && !category.value && data.suggestions && data.suggestions.length) {
          category.value = data.suggestions[0].category;
        }
      })
      .catch(function () { /* the agent chooses by hand */ });
  }

  text.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 250);
  });
  form.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      var save = form.querySelector('button[name="action"][value="save"]');
      if (form.requestSubmit) { form.requestSubmit(save); } else { form.submit(); }
    }
  });
})();
