// Live fragments: one EventSource per page; each server-sent event `name` replaces the
// content of every element marked data-live="name". No polling: the server pushes when
// the jobs DB notifies (and on its short gauge timer).
(function () {
  var live = document.querySelectorAll("[data-live]");
  if (!live.length || !window.EventSource) return;
  var names = {};
  live.forEach(function (el) { names[el.dataset.live] = true; });
  var source = new EventSource("events");
  Object.keys(names).forEach(function (name) {
    source.addEventListener(name, function (event) {
      document.querySelectorAll('[data-live="' + name + '"]').forEach(function (el) {
        el.innerHTML = event.data;
        el.dataset.updated = String(Date.now());
      });
      document.body.dataset.liveEvents = String(Number(document.body.dataset.liveEvents || 0) + 1);
    });
  });
  source.onopen = function () { document.body.dataset.live = "open"; };
  source.onerror = function () { document.body.dataset.live = "reconnecting"; };
})();

// Jobs page: "select all shown" toggles every row's checkbox.
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box.matches || !box.matches("[data-select-all]")) return;
  document.querySelectorAll("input[name=ids]").forEach(function (el) { el.checked = box.checked; });
});
