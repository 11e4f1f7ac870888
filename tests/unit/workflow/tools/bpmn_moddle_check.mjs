// Reads BPMN files with bpmn-moddle (the model bpmn-js opens files with) and prints, per file,
// the import warnings and the flow elements that have no diagram shape or edge, as JSON.
// Usage: node bpmn_moddle_check.mjs <path to bpmn-moddle/dist/index.js> <file.bpmn>...
import fs from 'fs';
import { pathToFileURL } from 'url';

const [moddlePath, ...files] = process.argv.slice(2);
const { BpmnModdle } = await import(pathToFileURL(moddlePath).href);
const DRAWN = new Set([
  'bpmn:SequenceFlow', 'bpmn:UserTask', 'bpmn:ManualTask', 'bpmn:Task', 'bpmn:ScriptTask',
  'bpmn:ServiceTask', 'bpmn:StartEvent', 'bpmn:EndEvent', 'bpmn:ExclusiveGateway',
  'bpmn:ParallelGateway', 'bpmn:InclusiveGateway', 'bpmn:BoundaryEvent', 'bpmn:CallActivity',
  'bpmn:SubProcess', 'bpmn:IntermediateCatchEvent', 'bpmn:IntermediateThrowEvent', 'bpmn:Lane',
  'bpmn:Participant',
]);
const report = {};
for (const file of files) {
  const { rootElement, warnings, elementsById } = await new BpmnModdle().fromXML(
    fs.readFileSync(file, 'utf8'));
  const drawn = new Set();
  for (const diagram of rootElement.diagrams || []) {
    for (const shape of diagram.plane.planeElement || []) {
      if (shape.bpmnElement) drawn.add(shape.bpmnElement.id);
    }
  }
  const undrawn = Object.entries(elementsById)
    .filter(([id, element]) => DRAWN.has(element.$type) && !drawn.has(id))
    .map(([id]) => id);
  report[file.split('/').pop()] = { warnings: warnings.map((w) => w.message), undrawn };
}
console.log(JSON.stringify(report));
