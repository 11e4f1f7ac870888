/* The modeler's properties panel and its Check button. Every edit is a bpmn-js command, so
   undo, redo and the unsaved-edits guard see it and saveXML writes it.

   The spiffworkflow namespace is deliberately not registered with bpmn-js: its elements stay
   generic ("Any") elements, which bpmn-js writes back as it read them. A descriptor would drop
   every spiffworkflow element it does not define (instructionsForEndUser, preScript...). */
(function () {
  "use strict";

  var SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  var STEP = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
  var FOUR_EYES = /^(?:[a-z][a-z0-9_]*(\.[a-z0-9_]+)+|=[A-Za-z_][A-Za-z0-9_]*)$/;
  var LANE_ROLE = /^.*[(\uff08]\s*([a-z_]+)\s*[)\uff09]$/;
  var LANE_SUFFIX = /\s*[(\uff08]\s*[a-z_]*\s*[)\uff09]\s*$/;
  var DUE_HOURS = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/;
  var IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
  var KEYWORDS = ["False", "None", "True", "and", "as", "assert", "async", "await", "break",
                  "class", "continue", "def", "del", "elif", "else", "except", "finally", "for",
                  "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or",
                  "pass", "raise", "return", "try", "while", "with", "yield"];
  /* Tasks that wait for a person (an untyped task does too, as the check says). */
  var HUMAN_TASKS = ["bpmn:Task", "bpmn:UserTask", "bpmn:ManualTask"];
  var TASK_TYPES = ["bpmn:Task", "bpmn:UserTask", "bpmn:ManualTask", "bpmn:ScriptTask",
                    "bpmn:ServiceTask"];
  var CONDITIONAL_SOURCES = ["bpmn:ExclusiveGateway", "bpmn:InclusiveGateway",
                             "bpmn:ComplexGateway"];
  var TIMER_KINDS = ["timeDuration", "timeDate", "timeCycle"];

  // -- the model --------------------------------------------------------------------------------

  function bo(element) {
    return element && (element.businessObject || element);
  }

  function is(element, type) {
    var object = bo(element);
    return !!object && typeof object.$instanceOf === "function" && object.$instanceOf(type);
  }

  function isAny(element, types) {
    return types.some(function (type) { return is(element, type); });
  }

  function isGeneric(value) {
    return !!value && !!value.$descriptor && !!value.$descriptor.isGeneric;
  }

  function isSpiff(value, localName) {
    return isGeneric(value) && value.$descriptor.ns.uri === SPIFF &&
      value.$descriptor.ns.localName === localName;
  }

  function isProperty(value, name) {
    return isSpiff(value, "property") && value.name === name;
  }

  /* A generic element's XML attributes (its own keys that are not $type, $body, ...). */
  function attributesOf(value) {
    var attributes = {};
    Object.keys(value).forEach(function (key) {
      if (key.charAt(0) !== "$" && typeof value[key] !== "function") {
        attributes[key] = value[key];
      }
    });
    return attributes;
  }

  function cloneGeneric(moddle, value) {
    var copy = moddle.createAny(value.$type, value.$descriptor.ns.uri, attributesOf(value));
    if (value.$body !== undefined) { copy.$body = value.$body; }
    if (value.$children) {
      copy.$children = value.$children.map(function (child) {
        var copied = isGeneric(child) ? cloneGeneric(moddle, child) : child;
        copied.$parent = copy;
        return copied;
      });
    }
    return copy;
  }

  function propertyLists(object) {
    var values = object.extensionElements && object.extensionElements.values;
    return (values || []).filter(function (value) { return isSpiff(value, "properties"); });
  }

  /* name -> value of the spiffworkflow:property elements. SpiffWorkflow reads a task's last
     spiffworkflow:properties element only; `everyList` reads them all (a process's `main`, as
     the deploy check does). */
  function spiffProperties(object, everyList) {
    var found = {};
    var lists = propertyLists(object);
    (everyList ? lists : lists.slice(-1)).forEach(function (list) {
      (list.$children || []).forEach(function (property) {
        if (isSpiff(property, "property") && typeof property.name === "string") {
          found[property.name] = property.value == null ? "" : String(property.value);
        }
      });
    });
    return found;
  }

  function isIdentifier(text) {
    return IDENTIFIER.test(text) && KEYWORDS.indexOf(text) < 0;
  }

  function asText(value) {
    return value === undefined || value === null ? "" : String(value);
  }

  /* A service task's spiffworkflow:serviceTaskOperator: SpiffWorkflow reads the last one. */
  function operatorOf(object) {
    var values = (object.extensionElements && object.extensionElements.values) || [];
    var operators = values.filter(function (value) {
      return isSpiff(value, "serviceTaskOperator");
    });
    return operators.length ? operators[operators.length - 1] : null;
  }

  /* What a service task calls, as the panel edits it: the connector (the operator's id), the
     result variable and the parameters in order, each a name, an expression and its type. */
  function serviceCall(object) {
    var operator = operatorOf(object);
    var parameters = [];
    ((operator && operator.$children) || []).forEach(function (list) {
      if (!isSpiff(list, "parameters")) { return; }
      (list.$children || []).forEach(function (parameter) {
        if (!isSpiff(parameter, "parameter")) { return; }
        parameters.push({ name: asText(parameter.id), expression: asText(parameter.value),
                          type: asText(parameter.type) || "str" });
      });
    });
    return { connector: operator ? asText(operator.id) : "",
             result: operator ? asText(operator.resultVariable) : "", parameters: parameters };
  }

  function laneRole(name, roles) {
    var text = (name || "").trim();
    var match = LANE_ROLE.exec(text);
    var role = match ? match[1] : text;
    return roles.some(function (pair) { return pair[0] === role; }) ? role : null;
  }

  function jsonProblem(text) {
    if (!text.trim()) { return null; }
    try {
      JSON.parse(text);
      return null;
    } catch (error) {
      return error.message;
    }
  }

  function sameJson(a, b) {
    try {
      return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
    } catch (error) {
      return false;
    }
  }

  // -- the page ---------------------------------------------------------------------------------

  function node(tag, attributes, text) {
    var made = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      if (key === "className") { made.className = attributes[key]; } else {
        made.setAttribute(key, attributes[key]);
      }
    });
    if (text !== undefined && text !== null) { made.textContent = text; }
    return made;
  }

  function option(value, label, selected) {
    var made = node("option", { value: value }, label);
    made.selected = !!selected;
    return made;
  }

  function Panel(modeler, aside, config) {
    this.modeler = modeler;
    this.aside = aside;
    this.body = aside.querySelector("[data-properties-body]");
    this.config = config;
    this.texts = config.texts || {};
    this.moddle = modeler.get("moddle");
    this.modeling = modeler.get("modeling");
    this.bpmnFactory = modeler.get("bpmnFactory");
    this.bpmnReplace = modeler.get("bpmnReplace");
    this.selection = modeler.get("selection");
    this.canvas = modeler.get("canvas");
    this.registry = modeler.get("elementRegistry");
    this.syncs = [];
    this.element = null;
    this.counter = 0;
    this.writing = false;
  }

  /* Make an edit from a field that is being left: the focus may be on its way to another
     field of the panel, so the panel is synced, not rebuilt under the click. */
  Panel.prototype.leaving = function (write) {
    this.writing = true;
    try {
      write();
    } finally {
      this.writing = false;
    }
  };

  Panel.prototype.t = function (key) {
    return this.texts[key] || key;
  };

  Panel.prototype.typeLabel = function (object) {
    var types = this.texts.types || {};
    return types[object.$type] || object.$type.replace(/^bpmn:/, "");
  };

  /* The prefix this document gives the spiffworkflow namespace (spiffworkflow by default). */
  Panel.prototype.prefix = function () {
    var definitions = bo(this.canvas.getRootElement());
    while (definitions && definitions.$parent) { definitions = definitions.$parent; }
    var attributes = (definitions && definitions.$attrs) || {};
    var declared = Object.keys(attributes).filter(function (key) {
      return key.indexOf("xmlns:") === 0 && attributes[key] === SPIFF;
    })[0];
    return declared ? declared.slice(6) : "spiffworkflow";
  };

  Panel.prototype.spiffElement = function (localName, attributes) {
    return this.moddle.createAny(this.prefix() + ":" + localName, SPIFF, attributes || {});
  };

  Panel.prototype.copyList = function (list, children) {
    var copy = this.moddle.createAny(list.$type, SPIFF, attributesOf(list));
    children.forEach(function (child) { child.$parent = child.$parent || copy; });
    copy.$children = children;
    copy.$parent = list.$parent;
    return copy;
  };

  /* Set (or with "", remove) spiffworkflow property `name` of `target` (the business object of
     `element`, or the process of a pool) in one command. It is set in the last property list
     (the one SpiffWorkflow reads) and removed from every list. The lists are replaced, not
     changed in place, so undo puts the old ones back; other extension elements are kept. */
  Panel.prototype.setProperty = function (element, target, name, value, everyList) {
    var current = spiffProperties(target, everyList)[name];
    if ((current === undefined && value === "") || current === value) { return; }
    var self = this;
    var lists = propertyLists(target);
    var extension = target.extensionElements;
    var fresh = function () { return self.spiffElement("property", { name: name, value: value }); };
    if (!lists.length) {
      var list = this.spiffElement("properties");
      list.$children = [fresh()];
      list.$children[0].$parent = list;
      if (!extension) {
        extension = this.bpmnFactory.create("bpmn:ExtensionElements", { values: [list] });
        list.$parent = extension;
        extension.$parent = target;
        this.modeling.updateModdleProperties(element, target, { extensionElements: extension });
      } else {
        list.$parent = extension;
        this.modeling.updateModdleProperties(element, extension, {
          values: extension.values.concat([list]) });
      }
      return;
    }
    var last = lists[lists.length - 1];
    var values = extension.values.map(function (item) {
      if (lists.indexOf(item) < 0) { return item; }
      var children = item.$children || [];
      var others = children.filter(function (p) { return !isProperty(p, name); });
      if (item !== last) {  // not read for a task: only a removal touches it
        if (value !== "" || others.length === children.length) { return item; }
        return others.length ? self.copyList(item, others) : null;
      }
      var kept = [];
      var placed = false;
      children.forEach(function (property) {
        if (!isProperty(property, name)) {
          kept.push(property);
        } else if (value !== "" && !placed) {
          kept.push(fresh());  // where it was
          placed = true;
        }
      });
      if (value !== "" && !placed) { kept.push(fresh()); }
      // An emptied list goes, unless an earlier one would become the one SpiffWorkflow reads.
      return kept.length || lists.length > 1 ? self.copyList(item, kept) : null;
    }).filter(Boolean);
    this.modeling.updateModdleProperties(element, extension, { values: values });
  };

  /* Make the service task call `call` (as serviceCall gives it) in one command. The operator
     is replaced, not changed in place, so undo puts the old one back; its attributes and
     children the panel does not edit (a retry...) and the other extension elements are kept. */
  Panel.prototype.setServiceCall = function (element, call) {
    var object = bo(element);
    if (JSON.stringify(call) === JSON.stringify(serviceCall(object))) { return; }
    var self = this;
    var current = operatorOf(object);
    var attributes = current ? attributesOf(current) : {};
    attributes.id = call.connector;
    delete attributes.resultVariable;
    if (call.result) { attributes.resultVariable = call.result; }
    var operator = this.moddle.createAny(
      current ? current.$type : this.prefix() + ":serviceTaskOperator", SPIFF, attributes);
    var parameterList = function (old) {
      var list = old ? self.moddle.createAny(old.$type, SPIFF, attributesOf(old))
        : self.spiffElement("parameters");
      list.$children = call.parameters.map(function (row) {
        var parameter = self.spiffElement("parameter",
          { id: row.name, type: row.type || "str", value: row.expression });
        parameter.$parent = list;
        return parameter;
      });
      list.$parent = operator;
      return list;
    };
    var children = [];
    var placed = false;
    ((current && current.$children) || []).forEach(function (child) {
      if (!isSpiff(child, "parameters")) {
        child.$parent = child.$parent || operator;
        children.push(child);
      } else if (!placed) {  // the parameters where they were, in one list
        if (call.parameters.length) { children.push(parameterList(child)); }
        placed = true;
      }
    });
    if (!placed && call.parameters.length) { children.unshift(parameterList(null)); }
    if (children.length) { operator.$children = children; }
    var empty = !call.connector && !call.result && !children.length;  // nothing left to call
    var extension = object.extensionElements;
    if (!extension) {
      extension = this.bpmnFactory.create("bpmn:ExtensionElements", { values: [operator] });
      operator.$parent = extension;
      extension.$parent = object;
      this.modeling.updateModdleProperties(element, object, { extensionElements: extension });
      return;
    }
    operator.$parent = extension;
    var values = current ? extension.values.map(function (value) {
      return value === current ? (empty ? null : operator) : value;
    }).filter(Boolean) : extension.values.concat([operator]);
    this.modeling.updateModdleProperties(element, extension, { values: values });
  };

  // -- building the panel -----------------------------------------------------------------------

  /* A labelled control; `sync` puts the model's value back unless the person is typing in it. */
  Panel.prototype.field = function (label, control, hint) {
    var id = "gx-prop-" + (++this.counter);
    control.id = id;
    var wrap = node("div", { className: "gx-prop" });
    if (control.type === "checkbox") {
      var box = node("label", { "for": id, className: "gx-prop-check" });
      box.appendChild(control);
      box.appendChild(document.createTextNode(" " + label));
      wrap.appendChild(box);
    } else {
      wrap.appendChild(node("label", { "for": id }, label));
      wrap.appendChild(control);
    }
    var error = node("p", { className: "field-error", hidden: "" });
    error.setAttribute("role", "alert");
    wrap.appendChild(error);
    if (hint) {
      var hintNode = node("p", { className: "gx-hint", id: id + "-hint" }, hint);
      control.setAttribute("aria-describedby", id + "-hint");
      wrap.appendChild(hintNode);
    }
    this.body.appendChild(wrap);
    return {
      control: control,
      problem: function (text) {
        error.textContent = text || "";
        error.hidden = !text;
        control.setAttribute("aria-invalid", text ? "true" : "false");
      },
    };
  };

  /* A text input or textarea bound to a value: read() gives the model's value, write(text)
     changes the model; check(text) gives an inline problem or null. */
  Panel.prototype.text = function (label, options) {
    var self = this;
    var control = options.multiline ? node("textarea", { rows: String(options.rows || 4),
      spellcheck: "false" }) : node("input", { type: "text", autocomplete: "off" });
    if (options.readOnly) { control.readOnly = true; }
    if (options.list) { control.setAttribute("list", options.list); }
    if (options.inputmode) { control.setAttribute("inputmode", options.inputmode); }
    if (options.placeholder) { control.placeholder = options.placeholder; }
    if (options.monospace) { control.className = "gx-code"; }
    if (options.name) { control.dataset.property = options.name; }
    var made = this.field(label, control, options.hint);
    var show = options.show || function (value) { return value; };
    var check = function () {
      if (options.check) { made.problem(options.check(control.value)); }
    };
    var sync = function () {
      if (document.activeElement !== control) { control.value = show(options.read() || ""); }
      check();
    };
    sync();
    control.addEventListener("input", check);
    if (!options.readOnly) {
      control.addEventListener("change", function () {
        self.leaving(function () { options.write(control.value); });
      });
    }
    this.syncs.push(sync);
    return made;
  };

  Panel.prototype.select = function (label, choices, options) {
    var control = node("select");
    if (options.name) { control.dataset.property = options.name; }
    var made = this.field(label, control, options.hint);
    var sync = function () {
      var value = options.read() || "";
      control.textContent = "";
      var known = choices.some(function (pair) { return pair[0] === value; });
      if (!known) {  // shown, not lost
        control.appendChild(option(value, options.unknownLabel ? options.unknownLabel(value)
          : value, true));
      }
      choices.forEach(function (pair) {
        control.appendChild(option(pair[0], pair[1], pair[0] === value));
      });
    };
    sync();
    control.addEventListener("change", function () { options.write(control.value); });
    this.syncs.push(function () { if (document.activeElement !== control) { sync(); } });
    return made;
  };

  Panel.prototype.checkbox = function (label, options) {
    var control = node("input", { type: "checkbox" });
    if (options.name) { control.dataset.property = options.name; }
    var made = this.field(label, control, options.hint);
    var sync = function () { control.checked = !!options.read(); };
    sync();
    control.addEventListener("change", function () { options.write(control.checked); });
    this.syncs.push(sync);
    return made;
  };

  Panel.prototype.heading = function (text) {
    this.body.appendChild(node("h3", {}, text));
  };

  Panel.prototype.note = function (text, className) {
    this.body.appendChild(node("p", { className: className || "muted" }, text));
  };

  Panel.prototype.render = function () {
    var selected = this.selection.get();
    this.body.textContent = "";
    this.syncs = [];
    this.element = null;
    if (selected.length > 1) {
      this.aside.dataset.element = "";
      this.note(this.t("several").replace("{count}", String(selected.length)));
      return;
    }
    var root = this.canvas.getRootElement();
    var element = selected.length ? (selected[0].labelTarget || selected[0]) : root;
    var object = bo(element);
    if (!object || !object.$type) { return; }
    this.element = element;
    this.aside.dataset.element = object.id || "";
    var kind = node("p", { className: "gx-prop-kind" });
    kind.appendChild(node("strong", {}, this.typeLabel(object)));
    this.body.appendChild(kind);
    if (!selected.length) { this.note(this.t("nothing")); }
    if (element === root && is(element, "bpmn:Collaboration")) {
      this.collaboration(element);
      return;
    }
    this.common(element, element === root);
    if (TASK_TYPES.indexOf(object.$type) >= 0) { this.taskType(element); }
    if (HUMAN_TASKS.indexOf(object.$type) >= 0) { this.humanTask(element); }
    if (is(element, "bpmn:ScriptTask")) { this.script(element); }
    if (is(element, "bpmn:ServiceTask")) { this.serviceTask(element); }
    if (is(element, "bpmn:SequenceFlow") && (object.conditionExpression ||
        (element.source && isAny(element.source, CONDITIONAL_SOURCES)))) {
      this.condition(element);
    }
    var self = this;
    (object.eventDefinitions || []).forEach(function (definition) {
      if (is(definition, "bpmn:TimerEventDefinition")) { self.timer(element, definition); }
    });
    if (is(element, "bpmn:Lane")) { this.lane(element); }
    if (is(element, "bpmn:Process")) { this.main(element, object); }
    if (is(element, "bpmn:Participant") && object.processRef) {
      this.process(element, object.processRef);
    }
  };

  Panel.prototype.sync = function () {
    this.syncs.forEach(function (sync) { sync(); });
  };

  Panel.prototype.common = function (element, isRoot) {
    var self = this;
    var object = bo(element);
    this.text(this.t("id"), { readOnly: true, name: "id", read: function () { return object.id; } });
    this.text(this.t("name"), {
      name: "name",
      read: function () { return object.name; },
      write: function (value) {
        if ((object.name || "") === value) { return; }
        if (isRoot) {
          self.modeling.updateProperties(element, { name: value || undefined });
        } else {
          self.modeling.updateLabel(element, value || null);
        }
      },
    });
  };

  Panel.prototype.taskType = function (element) {
    var self = this;
    var types = this.texts.types || {};
    this.select(this.t("type"), TASK_TYPES.map(function (type) {
      return [type, types[type] || type];
    }), {
      name: "type",
      read: function () { return bo(element).$type; },
      write: function (type) {
        if (type === bo(element).$type) { return; }
        var replaced = self.bpmnReplace.replaceElement(element, { type: type });
        self.selection.select(replaced);
      },
    });
  };

  Panel.prototype.propertyText = function (element, target, name, label, options) {
    var self = this;
    options.name = name;
    options.read = function () { return spiffProperties(target)[name]; };
    var write = options.write;
    options.write = write || function (value) {
      self.setProperty(element, target, name, value.trim());
    };
    return this.text(label, options);
  };

  Panel.prototype.humanTask = function (element) {
    var self = this;
    var object = bo(element);
    var t = this.t.bind(this);
    this.heading(t("task_heading"));
    this.propertyText(element, object, "step", t("step"), {
      list: "gx-steps", placeholder: "receiving.inspect", hint: t("step_hint"),
      check: function (value) {
        var step = value.trim();
        if (!step) { return t("step_missing"); }
        return STEP.test(step) ? null : t("step_bad");
      },
    });
    this.select(t("signature"), [["", t("signature_none")]].concat(
      (this.config.meanings || []).map(function (pair) {
        return [pair[0], pair[1] + " \u00b7 " + pair[0]];
      })), {
      name: "signature", hint: t("signature_hint"),
      read: function () { return spiffProperties(object).signature; },
      write: function (value) { self.setProperty(element, object, "signature", value); },
    });
    this.propertyText(element, object, "due_hours", t("due_hours"), {
      inputmode: "decimal", placeholder: "24", hint: t("due_hours_hint"),
      check: function (value) {
        return !value.trim() || (DUE_HOURS.test(value) && parseFloat(value) > 0)
          ? null : t("due_hours_bad");
      },
    });
    this.propertyText(element, object, "four_eyes_with", t("four_eyes_with"), {
      list: "gx-steps", hint: t("four_eyes_hint"),
      check: function (value) {
        return !value.trim() || FOUR_EYES.test(value.trim()) ? null : t("four_eyes_bad");
      },
    });
    this.propertyText(element, object, "form", t("form"), {
      multiline: true, rows: 10, monospace: true, hint: t("form_hint"),
      show: function (value) {  // stored compact, shown readable
        try {
          return value.trim() ? JSON.stringify(JSON.parse(value), null, 2) : value;
        } catch (error) {
          return value;
        }
      },
      check: function (value) {
        var problem = jsonProblem(value);
        return problem ? t("form_bad") + " " + problem : null;
      },
      write: function (value) {
        var stored = spiffProperties(object).form;
        if (stored !== undefined && sameJson(stored, value)) { return; }  // only laid out
        self.setProperty(element, object, "form", value.trim());
      },
    });
  };

  Panel.prototype.script = function (element) {
    var self = this;
    var object = bo(element);
    this.text(this.t("script"), {
      name: "script", multiline: true, rows: 8, monospace: true, hint: this.t("script_hint"),
      read: function () { return object.script; },
      write: function (value) {
        if ((object.script || "") === value) { return; }
        self.modeling.updateProperties(element, { script: value.trim() ? value : undefined });
      },
    });
  };

  /* The connector a service task calls, where its result goes and what it is called with. */
  Panel.prototype.serviceTask = function (element) {
    var self = this;
    var object = bo(element);
    var t = this.t.bind(this);
    var connectors = this.config.connectors || [];
    var change = function (edit) {
      var call = serviceCall(object);
      edit(call);
      self.setServiceCall(element, call);
    };
    this.heading(t("service_heading"));
    var connector = this.select(t("connector"), [["", t("choose_connector")]].concat(
      connectors.map(function (name) { return [name, name]; })), {
      name: "connector", hint: t("connector_hint"),
      unknownLabel: function (name) {
        return t("connector_not_registered").replace("{name}", name);
      },
      read: function () { return serviceCall(object).connector; },
      write: function (name) { change(function (call) { call.connector = name; }); },
    });
    var checkConnector = function () {
      var name = serviceCall(object).connector;
      connector.problem(!name ? t("connector_missing")
        : connectors.indexOf(name) < 0 ? t("connector_unregistered") : null);
    };
    checkConnector();
    this.syncs.push(checkConnector);
    this.text(t("result_variable"), {
      name: "result_variable", monospace: true, placeholder: "stock", hint: t("result_hint"),
      read: function () { return serviceCall(object).result; },
      check: function (value) {
        return !value.trim() || isIdentifier(value.trim()) ? null : t("result_bad");
      },
      write: function (value) { change(function (call) { call.result = value.trim(); }); },
    });
    this.parameters(object, change);
  };

  /* The service task's parameters: a row each, a name and an expression. A row is written once
     it has a name; until then it stays in the panel only. */
  Panel.prototype.parameters = function (object, change) {
    var self = this;
    var t = this.t.bind(this);
    var titleId = "gx-prop-" + (++this.counter);
    var wrap = node("div", { className: "gx-prop", "data-parameters": "" });
    var title = node("p", { id: titleId });
    title.appendChild(node("strong", {}, t("parameters")));
    wrap.appendChild(title);
    var none = node("p", { className: "muted" }, t("parameters_none"));
    var table = node("table",
      { "aria-labelledby": titleId, "aria-describedby": titleId + "-hint" });
    var head = node("tr");
    head.appendChild(node("th", { scope: "col" }, t("name")));
    head.appendChild(node("th", { scope: "col" }, t("expression")));
    var actions = node("th", { scope: "col" });
    actions.appendChild(node("span", { className: "visually-hidden" }, t("remove")));
    head.appendChild(actions);
    table.appendChild(node("thead")).appendChild(head);
    var rows = table.appendChild(node("tbody"));
    var error = node("p", { className: "field-error", role: "alert", hidden: "" });
    var add = node("button", { type: "button", className: "secondary", "data-add-parameter": "" },
      t("add_parameter"));
    wrap.appendChild(none);
    wrap.appendChild(table);
    wrap.appendChild(error);
    wrap.appendChild(node("p", { className: "gx-hint", id: titleId + "-hint" },
      t("parameters_hint")));
    wrap.appendChild(add);
    this.body.appendChild(wrap);

    var shown = function () {  // the rows in the panel: name, expression, type, inputs
      return Array.prototype.map.call(rows.children, function (row) {
        var inputs = row.querySelectorAll("input");
        return { name: inputs[0].value.trim(), expression: inputs[1].value.trim(),
                 type: row.dataset.type, inputs: inputs };
      });
    };
    var named = function () {
      return shown().filter(function (row) { return row.name; }).map(function (row) {
        return { name: row.name, expression: row.expression, type: row.type };
      });
    };
    var check = function () {
      var problems = [];
      var names = {};
      shown().forEach(function (row, index) {
        var reasons = [];
        var nameBad = false;
        if (!row.name) {
          if (row.expression) { reasons.push(t("parameter_name_missing")); nameBad = true; }
        } else if (!isIdentifier(row.name)) {
          reasons.push(t("parameter_name_bad"));
          nameBad = true;
        } else if (names[row.name]) {
          reasons.push(t("parameter_name_twice"));
          nameBad = true;
        }
        names[row.name] = true;
        var expressionBad = !!row.name && !row.expression;
        if (expressionBad) { reasons.push(t("parameter_expression_missing")); }
        row.inputs[0].setAttribute("aria-invalid", nameBad ? "true" : "false");
        row.inputs[1].setAttribute("aria-invalid", expressionBad ? "true" : "false");
        if (reasons.length) {
          problems.push(t("parameter_problem").replace("{number}", String(index + 1)) + " " +
                        reasons.join(" "));
        }
      });
      error.textContent = problems.join(" ");
      error.hidden = !problems.length;
      none.hidden = rows.children.length > 0;
      table.hidden = !none.hidden;
    };
    var write = function () {
      check();
      var written = named();
      self.leaving(function () { change(function (call) { call.parameters = written; }); });
    };
    var renumber = function () {
      Array.prototype.forEach.call(rows.children, function (row, index) {
        var number = String(index + 1);
        var inputs = row.querySelectorAll("input");
        inputs[0].setAttribute("aria-label", t("parameter_name").replace("{number}", number));
        inputs[1].setAttribute("aria-label",
          t("parameter_expression").replace("{number}", number));
        var remove = row.querySelector("button");
        remove.setAttribute("aria-label", t("remove_parameter").replace("{number}", number));
        remove.title = remove.getAttribute("aria-label");
      });
    };
    var addRow = function (parameter) {
      var row = node("tr", { "data-parameter": "" });
      row.dataset.type = parameter.type || "str";
      var name = node("input", { type: "text", autocomplete: "off", spellcheck: "false",
                                 "data-parameter-name": "" });
      var expression = node("input", { type: "text", autocomplete: "off", spellcheck: "false",
                                       className: "gx-code", "data-parameter-expression": "" });
      name.value = parameter.name;
      expression.value = parameter.expression;
      var remove = node("button", { type: "button", className: "link" }, "\u00d7");
      [name, expression, remove].forEach(function (control) {
        row.appendChild(node("td")).appendChild(control);
      });
      [name, expression].forEach(function (control) {
        control.addEventListener("input", check);
        control.addEventListener("change", write);
      });
      remove.addEventListener("click", function () {
        rows.removeChild(row);
        renumber();
        add.focus();
        write();
      });
      rows.appendChild(row);
      renumber();
      return row;
    };
    add.addEventListener("click", function () {
      addRow({ name: "", expression: "", type: "str" }).querySelector("input").focus();
      check();
    });
    var sync = function () {  // the model's rows, unless they are the ones shown (an undo...)
      var model = serviceCall(object).parameters;
      if (JSON.stringify(model) !== JSON.stringify(named()) &&
          !table.contains(document.activeElement)) {
        rows.textContent = "";
        model.forEach(addRow);
      }
      check();
    };
    serviceCall(object).parameters.forEach(addRow);
    check();
    this.syncs.push(sync);
  };

  Panel.prototype.condition = function (element) {
    var self = this;
    var object = bo(element);
    var source = element.source;
    this.text(this.t("condition"), {
      name: "condition", multiline: true, rows: 2, monospace: true,
      hint: this.t("condition_hint"),
      read: function () { return object.conditionExpression && object.conditionExpression.body; },
      write: function (value) {
        var text = value.trim();
        var current = object.conditionExpression ? object.conditionExpression.body || "" : "";
        if (text === current.trim() && !!object.conditionExpression === !!text) { return; }
        self.modeling.updateProperties(element, {
          conditionExpression: text ? self.bpmnFactory.create("bpmn:FormalExpression",
            { body: text }) : undefined,
        });
      },
    });
    if (!isAny(source, CONDITIONAL_SOURCES)) { return; }  // only a gateway has a default
    this.checkbox(this.t("default_flow"), {
      name: "default",
      read: function () { return bo(source).default === object; },
      write: function (checked) {
        self.modeling.updateProperties(source, { "default": checked ? object : undefined });
      },
    });
  };

  Panel.prototype.timer = function (element, definition) {
    var self = this;
    var t = this.t.bind(this);
    var kindOf = function () {
      return TIMER_KINDS.filter(function (kind) { return definition.get(kind); })[0] ||
        "timeDuration";
    };
    var chosen = kindOf();
    var expression = function () {
      var found = definition.get(kindOf());
      return found ? found.body || "" : "";
    };
    var store = function (kind, text) {
      if (kind === kindOf() && text === expression().trim()) { return; }
      var changes = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
      if (text) {
        changes[kind] = self.bpmnFactory.create("bpmn:FormalExpression", { body: text });
      }
      self.modeling.updateModdleProperties(element, definition, changes);
    };
    this.heading(t("timer"));
    var input;
    this.select(t("timer_kind"), [["timeDuration", t("timer_duration")],
      ["timeDate", t("timer_date")], ["timeCycle", t("timer_cycle")]], {
      name: "timer_kind",
      read: function () {
        if (expression()) { chosen = kindOf(); }  // after an undo, what the model says
        return chosen;
      },
      write: function (kind) {
        chosen = kind;
        store(kind, input.control.value.trim());
      },
    });
    input = this.text(t("expression"), {
      name: "timer_expression", monospace: true, placeholder: "\"PT48H\"", hint: t("timer_hint"),
      read: expression,
      write: function (value) { store(chosen, value.trim()); },
    });
  };

  Panel.prototype.lane = function (element) {
    var self = this;
    var t = this.t.bind(this);
    var object = bo(element);
    var roles = this.config.roles || [];
    var status = this.select(t("role"), [["", t("choose_role")]].concat(
      roles.map(function (pair) { return [pair[0], pair[1] + " \u00b7 " + pair[0]]; })), {
      name: "role", hint: t("lane_hint"),
      read: function () { return laneRole(object.name, roles) || ""; },
      write: function (role) {
        if (!role) { return; }
        var label = roles.filter(function (pair) { return pair[0] === role; })[0][1];
        var name = (object.name || "").trim();
        var base = name.replace(LANE_SUFFIX, "").trim();
        var isRoleLabel = roles.some(function (pair) { return pair[1] === base; });
        if (!base || isRoleLabel || laneRole(base, roles)) { base = label; }  // a role's own name
        self.modeling.updateLabel(element, base + " (" + role + ")");
      },
    });
    var check = function () {
      status.problem(laneRole(object.name, roles) ? null : t("lane_no_role"));
    };
    check();
    this.syncs.push(check);
  };

  /* The `main` property: which process of a file with several is the one to start. */
  Panel.prototype.main = function (element, process) {
    var self = this;
    var definitions = process.$parent;
    var processes = ((definitions && definitions.rootElements) || []).filter(function (root) {
      return is(root, "bpmn:Process");
    });
    if (processes.length < 2 && spiffProperties(process, true).main === undefined) { return; }
    this.checkbox(this.t("main"), {
      name: "main",
      read: function () {
        return (spiffProperties(process, true).main || "").toLowerCase() === "true";
      },
      write: function (checked) {
        self.setProperty(element, process, "main", checked ? "true" : "", true);
      },
    });
  };

  /* A pool's process: its id, its name and whether it is the main one. */
  Panel.prototype.process = function (element, process) {
    var self = this;
    this.heading(this.t("process"));
    this.text(this.t("process_id"), { readOnly: true, name: "process_id",
      read: function () { return process.id; } });
    this.text(this.t("process_name"), {
      name: "process_name",
      read: function () { return process.name; },
      write: function (value) {
        if ((process.name || "") === value.trim()) { return; }
        self.modeling.updateModdleProperties(element, process, { name: value.trim() || undefined });
      },
    });
    this.main(element, process);
  };

  Panel.prototype.collaboration = function (root) {
    var self = this;
    this.text(this.t("id"), { readOnly: true, name: "id", read: function () { return bo(root).id; } });
    (bo(root).participants || []).forEach(function (participant) {
      var pool = self.registry.get(participant.id);
      if (pool && participant.processRef) { self.process(pool, participant.processRef); }
    });
  };

  // -- selecting what the check names -----------------------------------------------------------

  Panel.prototype.find = function (id) {
    return this.registry.get(id) || this.registry.filter(function (element) {
      return is(element, "bpmn:Participant") && bo(element).processRef &&
        bo(element).processRef.id === id;
    })[0] || null;
  };

  Panel.prototype.show = function (id) {
    var element = this.find(id);
    if (!element) { return false; }
    if (element === this.canvas.getRootElement()) {
      this.selection.select(null);
    } else {
      try { this.canvas.scrollToElement(element); } catch (error) { /* off the plane */ }
      this.selection.select(element);
    }
    this.render();
    this.aside.scrollIntoView({ block: "nearest" });
    return true;
  };

  function attachCheck(panel, tools, form) {
    var button = tools.querySelector("[data-check-url]");
    var status = tools.querySelector("[data-check-status]");
    var list = tools.querySelector("[data-check-problems]");
    var marked = [];
    if (!button) { return; }
    var clear = function () {
      marked.forEach(function (id) { panel.canvas.removeMarker(id, "gx-problem"); });
      marked = [];
      list.textContent = "";
      list.hidden = true;
    };
    button.addEventListener("click", function () {
      clear();
      button.disabled = true;
      status.className = "muted";
      status.textContent = panel.t("checking");
      panel.modeler.saveXML({ format: true }).then(function (saved) {
        return fetch(button.dataset.checkUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-CSRFToken": form.querySelector("[name=csrf_token]").value,
          },
          body: JSON.stringify({ xml: saved.xml, key: form.querySelector("[name=key]").value }),
        });
      }).then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") < 0) { throw new Error(String(response.status)); }
        return response.json().then(function (data) {
          if (!response.ok && !data.problems) {
            throw new Error((data.error && data.error.message) || String(response.status));
          }
          return data;
        });
      }).then(function (data) {
        status.className = data.ok ? "ok" : "bad";
        status.textContent = data.message;
        (data.problems || []).forEach(function (problem) {
          var item = node("li", { "data-element": problem.element_id });
          var element = panel.find(problem.element_id);
          var where = node("code", {}, problem.element_id);
          if (element) {
            var link = node("button", { type: "button", className: "link" });
            link.appendChild(where);
            link.addEventListener("click", function () { panel.show(problem.element_id); });
            item.appendChild(link);
            if (element !== panel.canvas.getRootElement() && marked.indexOf(element.id) < 0) {
              panel.canvas.addMarker(element.id, "gx-problem");
              marked.push(element.id);
            }
          } else {
            item.appendChild(where);
          }
          item.appendChild(document.createTextNode(": " + problem.reason));
          list.appendChild(item);
        });
        list.hidden = !list.children.length;
      }).catch(function (error) {
        status.className = "bad";
        status.textContent = panel.t("check_failed") + ": " + (error && error.message);
      }).then(function () {
        button.disabled = false;
      });
    });
  }

  function attach(modeler, container) {
    var aside = document.getElementById(container.dataset.properties || "");
    if (!aside) { return null; }
    var configNode = document.getElementById(aside.dataset.config || "");
    var config = configNode ? JSON.parse(configNode.textContent) : {};
    var panel = new Panel(modeler, aside, config);
    var eventBus = modeler.get("eventBus");
    var moddle = panel.moddle;

    // Replacing a task by another kind, and copy-paste, copy extension elements with
    // ModdleCopy, which skips generic ones: copy the spiffworkflow elements whole instead.
    eventBus.on("moddleCopy.canCopyProperty", 1500, function (event) {
      if (isGeneric(event.property)) { return cloneGeneric(moddle, event.property); }
      return undefined;
    });
    eventBus.on(["selection.changed", "root.set"], function () { panel.render(); });
    eventBus.on("elements.changed", function (event) {
      if (panel.writing || panel.aside.contains(document.activeElement)) {
        panel.sync();  // the person is in a field: refresh the others, keep the layout
        return;
      }
      var shown = panel.element;
      var touched = !shown || event.elements.some(function (element) {
        return element === shown || element === shown.source ||
          bo(element) === bo(shown) || element === panel.canvas.getRootElement();
      });
      if (touched || !panel.registry.get(shown.id)) { panel.render(); }
    });
    // A label being typed on the canvas is finished before the panel is used.
    aside.addEventListener("focusin", function () {
      var editing = modeler.get("directEditing");
      if (editing.isActive()) { editing.complete(); }
    });
    panel.render();

    var form = document.getElementById(container.dataset.form);
    var tools = document.getElementById(aside.dataset.tools || "");
    if (tools && form) { attachCheck(panel, tools, form); }
    // The problems of a refused deployment select their element too.
    document.querySelectorAll(".gx-refused [data-element]").forEach(function (item) {
      if (!panel.find(item.dataset.element)) { return; }
      item.classList.add("gx-selectable");
      item.addEventListener("click", function () { panel.show(item.dataset.element); });
    });
    aside.dataset.state = "ready";
    return panel;
  }

  window.GxProperties = { attach: attach };
})();
