// Wires YASGUI (installed from npm) to this server's endpoint and the example queries.
(function () {
  var endpoint = document.getElementById("endpoint").textContent.trim();
  var examples = JSON.parse(document.getElementById("examples-data").textContent);
  var yasgui = new Yasgui(document.getElementById("yasgui"), {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: true,
    persistenceId: null
  });
  var tab = yasgui.getTab();
  if (examples.length && !tab.getQuery().includes("bkd:")) { tab.setQuery(examples[0].sparql); }
  document.querySelectorAll("button.example").forEach(function (button) {
    button.addEventListener("click", function () {
      var ex = examples.find(function (e) { return e.name === button.dataset.name; });
      var t = yasgui.getTab();
      t.setQuery(ex.sparql);
      t.query();
    });
  });
  window.kgYasgui = yasgui;
})();
