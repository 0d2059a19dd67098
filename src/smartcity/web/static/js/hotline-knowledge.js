// The knowledge base on the 12345 intake desk: as the agent types what the caller says, the
// answers that fit are listed (GET /api/v1/hotline/knowledge/suggest); "use this answer"
// fills the answer field, makes the call a consultation and remembers which answer it was,
// so saving the call closes it at intake (直接办结) and counts the use. The labels come from
// the panel's data attributes (translated by the page), never from this file.
(function () {
  var panel = document.getElementById("kb-intake");
  var text = document.getElementById("text");
  var answer = document.getElementById("answer");
  var chosen = document.getElementById("knowledge_id");
  var list = document.getElementById("kb-suggestions");
  if (!panel || !text || !answer || !chosen || !list || !window.fetch) { return; }
  var timer = null, asked = "";
  var english = document.documentElement.lang.indexOf("en") === 0;

  function item(hit) {
    var li = document.createElement("li");
    li.className = "kb-suggestion";
    var title = document.createElement("a");
    title.href = "/hotline/knowledge/" + hit.id;
    title.target = "_blank";
    title.rel = "noopener";
    // Chinese where the answer has no English, marked so (the page may be in English).
    title.textContent = english && hit.title_en ? hit.title_en : hit.title;
    if (!(english && hit.title_en)) { title.lang = "zh-CN"; }
    var excerpt = document.createElement("p");
    excerpt.className = "small";
    excerpt.textContent = hit.excerpt;
    excerpt.lang = "zh-CN";
    var use = document.createElement("button");
    use.type = "button";
    use.className = "button secondary kb-use";
    use.textContent = panel.dataset.use;
    use.addEventListener("click", function () {
      answer.value = hit.answer;
      chosen.value = hit.id;
      var consultation = document.querySelector('input[name="kind"][value="consultation"]');
      if (consultation) { consultation.checked = true; }
      list.querySelectorAll(".kb-use").forEach(function (b) { b.textContent = panel.dataset.use; });
      use.textContent = panel.dataset.used;
    });
    li.appendChild(title);
    li.appendChild(excerpt);
    li.appendChild(use);
    return li;
  }

  function show(hits) {
    list.textContent = "";
    if (!hits.length) {
      var none = document.createElement("li");
      none.className = "muted";
      none.textContent = panel.dataset.none;
      list.appendChild(none);
      return;
    }
    hits.forEach(function (hit) { list.appendChild(item(hit)); });
  }

  function ask() {
    var q = text.value.trim().slice(0, 100);
    if (q === asked) { return; }
    asked = q;
    if (q.length < 2) { list.textContent = ""; return; }
    fetch(panel.dataset.suggest + "?limit=5&q=" + encodeURIComponent(q), {
      headers: { Accept: "application/json" }, credentials: "same-origin"
    }).then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (page) { if (asked === q) { show(page.items || []); } })
      .catch(function () { /* the desk works without suggestions */ });
  }

  text.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 300);
  });
  // An answer the agent clears is no longer the knowledge base's (an edited one still is).
  answer.addEventListener("input", function () {
    if (!answer.value.trim()) { chosen.value = ""; }
  });
  if (text.value.trim()) { ask(); }
})();
