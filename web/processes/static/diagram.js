/* Process diagrams with bpmn-js: a viewer that highlights the path an instance took, and the
   modeler that posts the edited XML (with the CSRF token and signature fields of its form);
   the modeler's properties panel is properties.js. */
(function () {
  "use strict";

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function fail(container, error) {
    container.dataset.state = "error";
    var message = document.createElement("p");
    message.className = "gx-diagram-error";
    message.textContent = (container.dataset.errorText || "The diagram cannot be shown") +
      ": " + (error && error.message ? error.message : error);
    container.appendChild(message);
  }

  function highlight(viewer, states, activeText) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var overlays = viewer.get("overlays");
    var elements = states.elements || {};
    Object.keys(elements).forEach(function (id) {
      if (!registry.get(id)) { return; }
      canvas.addMarker(id, "gx-" + elements[id]);
      if (elements[id] === "active") {
        var badge = document.createElement("span");
        badge.className = "gx-overlay";
        badge.textContent = activeText;
        overlays.add(id, "gx-state", { position: { top: -10, right: 10 }, html: badge });
      }
    });
    // Only the flows the engine says it took (source and target both visited is not enough).
    var taken = {};
    (states.flows || []).forEach(function (pair) { taken[pair[0] + "\u0000" + pair[1]] = true; });
    registry.filter(function (element) {
      return element.type === "bpmn:SequenceFlow";
    }).forEach(function (flow) {
      var bo = flow.businessObject;
      if (bo.sourceRef && bo.targetRef && taken[bo.sourceRef.id + "\u0000" + bo.targetRef.id]) {
        canvas.addMarker(flow.id, "gx-taken");
      }
    });
  }

  async function showViewer(container) {
    try {
      var viewer = new window.BpmnJS({ container: container });
      await viewer.importXML(readJson(container.dataset.xml));
      viewer.get("canvas").zoom("fit-viewport", "auto");
      var states = container.dataset.states ? readJson(container.dataset.states) : {};
      highlight(viewer, states || {}, container.dataset.activeText || "now");
      container.dataset.state = "ready";
      container.dataset.marked = String(document.querySelectorAll(
        "#" + container.id + " .gx-done, #" + container.id + " .gx-active").length);
    } catch (error) {
      fail(container, error);
    }
  }

  async function showModeler(container) {
    var form = document.getElementById(container.dataset.form);
    var modeler;
    try {
      modeler = new window.BpmnJS({ container: container });
      await modeler.importXML(readJson(container.dataset.xml));
      modeler.get("canvas").zoom("fit-viewport", "auto");
      if (window.GxProperties) { window.GxProperties.attach(modeler, container); }
      container.dataset.state = "ready";
    } catch (error) {
      fail(container, error);
      return;
    }
    var ready = false;
    // Unsaved edits: the browser asks before the page is left (closed, reloaded, a link
    // followed); deploying is the one way out that keeps them.
    var edited = false;
    modeler.get("eventBus").on("commandStack.changed", function () {
      edited = modeler.get("commandStack").canUndo();
      container.dataset.edited = String(edited);
    });
    window.addEventListener("beforeunload", function (event) {
      if (edited && !ready) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
    form.addEventListener("submit", function (event) {
      if (ready) { return; }
      event.preventDefault();
      modeler.saveXML({ format: true }).then(function (result) {
        form.querySelector("[name=xml]").value = result.xml;
        ready = true;
        form.submit();
      }, function (error) { fail(container, error); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.BpmnJS) { return; }
    document.querySelectorAll("[data-bpmn-viewer]").forEach(showViewer);
    document.querySelectorAll("[data-bpmn-modeler]").forEach(showModeler);
  });
})();
